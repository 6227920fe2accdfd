// Command franz848 consumes through a consumer group of the KIP-848 protocol
// with franz-go (kgo.ServerSideBalancer), against the broker at -brokers: two
// members share a topic, one leaves half way and the other takes over its
// partitions from the committed offsets; every record is consumed once.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const n = 4000

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	brokers := flag.String("brokers", "", "bootstrap host:port")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	topic, group := "franz848", "grp-franz848"

	admin, err := kgo.NewClient(kgo.SeedBrokers(*brokers))
	if err != nil {
		fail("client: %v", err)
	}
	adm := kadm.NewClient(admin)
	if _, err := adm.CreateTopic(ctx, 4, 1, nil, topic); err != nil {
		fail("create topic: %v", err)
	}
	producer, err := kgo.NewClient(kgo.SeedBrokers(*brokers))
	if err != nil {
		fail("producer: %v", err)
	}
	for i := 0; i < n; i++ {
		producer.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("key-%d", i))}, func(_ *kgo.Record, err error) {
			if err != nil {
				fail("produce: %v", err)
			}
		})
	}
	if err := producer.Flush(ctx); err != nil {
		fail("flush: %v", err)
	}
	producer.Close()

	var mu sync.Mutex
	seen := map[string]int{}
	// A member: polls, counts, commits after each poll and before it lets
	// partitions go; stops after `quota` records or once all were seen.
	member := func(name string, quota int, done chan<- int) {
		var cl *kgo.Client
		cl, err := kgo.NewClient(kgo.SeedBrokers(*brokers), kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group),
			kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.ServerSideBalancer(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
			kgo.FetchMaxBytes(2000), kgo.FetchMaxPartitionBytes(2000),
			kgo.OnPartitionsRevoked(func(ctx context.Context, c *kgo.Client, _ map[string][]int32) {
				if err := c.CommitUncommittedOffsets(ctx); err != nil {
					fail("%s: commit on revoke: %v", name, err)
				}
			}))
		if err != nil {
			fail("%s: %v", name, err)
		}
		mine := 0
		for mine < quota {
			mu.Lock()
			all := len(seen) >= n
			mu.Unlock()
			if all {
				break
			}
			pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
			fetches := cl.PollRecords(pctx, 50)
			pcancel()
			if ctx.Err() != nil {
				fail("%s: deadline with %d of %d records seen", name, len(seen), n)
			}
			fetches.EachError(func(t string, p int32, err error) {
				if err != context.DeadlineExceeded {
					fail("%s: fetch %s[%d]: %v", name, t, p, err)
				}
			})
			fetches.EachRecord(func(r *kgo.Record) {
				mu.Lock()
				seen[string(r.Key)]++
				mu.Unlock()
				mine++
			})
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				fail("%s: commit: %v", name, err)
			}
			time.Sleep(20 * time.Millisecond) // slow enough for both members to hold partitions for a while
		}
		cl.Close() // leaves the group (member epoch -1)
		done <- mine
	}
	doneA, doneB := make(chan int, 1), make(chan int, 1)
	go member("a", n, doneA)
	go member("b", n/4, doneB)
	b := <-doneB
	a := <-doneA
	if b == 0 || a == 0 {
		fail("a member read nothing: a=%d b=%d", a, b)
	}
	for k, c := range seen {
		if c != 1 {
			fail("%s consumed %d times", k, c)
		}
	}
	if len(seen) != n {
		fail("distinct records consumed: %d of %d", len(seen), n)
	}
	offsets, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		fail("fetch offsets: %v", err)
	}
	var total int64
	offsets.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != n {
		fail("committed %d of %d", total, n)
	}
	// The group was one of the consumer protocol, not a classic one.
	list := kmsg.NewPtrListGroupsRequest()
	list.TypesFilter = []string{"consumer"}
	resp, err := list.RequestWith(ctx, admin)
	if err != nil {
		fail("list groups: %v", err)
	}
	found := false
	for _, g := range resp.Groups {
		found = found || (g.Group == group && g.GroupType == "consumer")
	}
	if !found {
		fail("%s is not listed as a consumer group: %+v", group, resp.Groups)
	}
	admin.Close()
	fmt.Printf("OK franz-go KIP-848: %d records, a=%d b=%d\n", n, a, b)
}
