// Command franz_txn runs transactions with franz-go against the broker at
// -brokers: committed records once and aborted ones never for read_committed
// consumers, and a consume-transform-produce loop (GroupTransactSession)
// whose output has every input record exactly once.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func values(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// readAll reads the topic from the start with the isolation level until it
// has `want` records, then once more for anything extra.
func readAll(ctx context.Context, brokers, topic string, committed bool, want int) []string {
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	c, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(iso),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		fail("reader: %v", err)
	}
	defer c.Close()
	var out []string
	poll := func(ctx context.Context) {
		fetches := c.PollFetches(ctx)
		fetches.EachError(func(t string, p int32, err error) {
			if ctx.Err() == nil {
				fail("fetch %s[%d]: %v", t, p, err)
			}
		})
		fetches.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	for len(out) < want {
		if ctx.Err() != nil {
			fail("%s: read %d of %d", topic, len(out), want)
		}
		poll(ctx)
	}
	extra, cancel := context.WithTimeout(ctx, time.Second)
	poll(extra)
	cancel()
	return out
}

func checkExactly(got, want []string, what string) {
	seen := map[string]int{}
	for _, v := range got {
		seen[v]++
		if seen[v] > 1 {
			fail("%s: %s read twice", what, v)
		}
	}
	for _, v := range want {
		if seen[v] != 1 {
			fail("%s: %s missing", what, v)
		}
	}
	if len(got) != len(want) {
		sort.Strings(got)
		fail("%s: read %d records, want %d", what, len(got), len(want))
	}
}

func produce(ctx context.Context, cl *kgo.Client, topic, prefix string, n int) {
	for _, v := range values(prefix, n) {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
			fail("produce %s: %v", v, err)
		}
	}
}

func main() {
	brokers := flag.String("brokers", "", "bootstrap host:port")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()

	admin, err := kgo.NewClient(kgo.SeedBrokers(*brokers))
	if err != nil {
		fail("client: %v", err)
	}
	adm := kadm.NewClient(admin)
	for _, t := range []string{"fz-txn", "fz-in", "fz-out"} {
		if _, err := adm.CreateTopic(ctx, 2, 1, nil, t); err != nil {
			fail("create topic %s: %v", t, err)
		}
	}

	// Commit, abort, commit.
	p, err := kgo.NewClient(kgo.SeedBrokers(*brokers), kgo.TransactionalID("fz-1"))
	if err != nil {
		fail("producer: %v", err)
	}
	for _, round := range []struct {
		prefix string
		commit kgo.TransactionEndTry
	}{{"c1", kgo.TryCommit}, {"a1", kgo.TryAbort}, {"c2", kgo.TryCommit}} {
		if err := p.BeginTransaction(); err != nil {
			fail("begin: %v", err)
		}
		produce(ctx, p, "fz-txn", round.prefix, 40)
		if err := p.EndTransaction(ctx, round.commit); err != nil {
			fail("end %s: %v", round.prefix, err)
		}
	}
	p.Close()
	checkExactly(readAll(ctx, *brokers, "fz-txn", true, 80), append(values("c1", 40), values("c2", 40)...),
		"read_committed")
	all := append(append(values("c1", 40), values("a1", 40)...), values("c2", 40)...)
	checkExactly(readAll(ctx, *brokers, "fz-txn", false, 120), all, "read_uncommitted")

	// Consume-transform-produce with the offsets in the transactions.
	plain, err := kgo.NewClient(kgo.SeedBrokers(*brokers))
	if err != nil {
		fail("plain producer: %v", err)
	}
	produce(ctx, plain, "fz-in", "in", 200)
	plain.Close()
	sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(*brokers), kgo.TransactionalID("fz-worker"),
		kgo.ConsumerGroup("fz-ctp"), kgo.ConsumeTopics("fz-in"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		fail("session: %v", err)
	}
	moved := 0
	for moved < 200 {
		if ctx.Err() != nil {
			fail("moved %d of 200 before the deadline", moved)
		}
		fetches := sess.PollFetches(ctx)
		fetches.EachError(func(t string, p int32, err error) { fail("fetch %s[%d]: %v", t, p, err) })
		if fetches.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			fail("session begin: %v", err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			out := &kgo.Record{Topic: "fz-out", Value: []byte("out-" + string(r.Value)[3:])}
			sess.Produce(ctx, out, func(_ *kgo.Record, err error) {
				if err != nil {
					fail("transactional produce: %v", err)
				}
			})
		})
		committed, err := sess.End(ctx, kgo.TryCommit)
		if err != nil {
			fail("session end: %v", err)
		}
		if committed {
			moved += fetches.NumRecords()
		}
	}
	sess.Close()
	checkExactly(readAll(ctx, *brokers, "fz-out", true, 200), values("out", 200), "fz-out read_committed")
	offsets, err := adm.FetchOffsets(ctx, "fz-ctp")
	if err != nil {
		fail("fetch offsets: %v", err)
	}
	var total int64
	offsets.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != 200 {
		fail("committed offsets add up to %d", total)
	}
	admin.Close()
	fmt.Println("OK franz-go transactions")
}
