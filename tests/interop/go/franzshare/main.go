// Command franzshare runs franz-go's share consumer (KIP-932 share groups:
// kgo.ShareGroup, Record.Ack) against the broker at -brokers:
//
//   - exactly-once: three share consumers of one group on a topic of three
//     partitions; 900 records, each accepted exactly once between them, and
//     at least two of them get records;
//   - release: a consumer releases the first 20 records it gets; they come
//     back (to either consumer of the group) with delivery count 2 and are
//     accepted then; every other record is delivered once;
//   - reject: rejected records are never delivered again;
//   - limit: a record released at each delivery is delivered three times (the
//     broker runs with group.share.delivery.count.limit=3, see
//     franz_go_share.sh) and then no more.
//
// Every scenario ends with a check of the group: its consumers closed, a new
// consumer of the group gets a marker record produced on each partition and
// nothing else (a record still acquired, released or otherwise available
// would come first, being older), and the group's start offset on each
// partition is the partition's end (everything settled).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

var (
	brokers string
	adm     *kadm.Client
	admin   *kgo.Client
)

// A delivery of one record to one consumer, and what the consumer did with it.
type delivery struct {
	consumer int
	count    int32
	ack      kgo.AckStatus
}

// ledger: every delivery of every record value, over all consumers of a scenario.
type ledger struct {
	mu      sync.Mutex
	byValue map[string][]delivery
}

func newLedger() *ledger { return &ledger{byValue: map[string][]delivery{}} }

func (l *ledger) add(value string, d delivery) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byValue[value] = append(l.byValue[value], d)
}

// settled: values with a final acknowledgement (accept or reject), and values
// delivered `limit` times (0: no limit), whatever was done with them.
func (l *ledger) settled(limit int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ds := range l.byValue {
		last := ds[len(ds)-1]
		if last.ack == kgo.AckAccept || last.ack == kgo.AckReject || (limit > 0 && len(ds) >= limit) {
			n++
		}
	}
	return n
}

// The group starts at the earliest offset (share.auto.offset.reset, a GROUP
// config): the records produced before its consumers join are its too.
func prepare(ctx context.Context, topic string, partitions int32, group string) {
	if _, err := adm.CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
		fail("create topic %s: %v", topic, err)
	}
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType = kmsg.ConfigResourceTypeGroupConfig
	res.ResourceName = group
	cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	cfg.Name = "share.auto.offset.reset"
	cfg.Op = kmsg.IncrementalAlterConfigOpSet
	cfg.Value = kmsg.StringPtr("earliest")
	res.Configs = append(res.Configs, cfg)
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(ctx, admin)
	if err != nil {
		fail("set share.auto.offset.reset of %s: %v", group, err)
	}
	for _, r := range resp.Resources {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			fail("set share.auto.offset.reset of %s: %v", group, err)
		}
	}
}

// produce writes n records keyed and valued prefix0..prefix(n-1); the keys
// spread them over the partitions.
func produce(ctx context.Context, topic, prefix string, n int) {
	p, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.DefaultProduceTopic(topic))
	if err != nil {
		fail("producer: %v", err)
	}
	defer p.Close()
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("%s%d", prefix, i)
		p.Produce(ctx, &kgo.Record{Key: []byte(v), Value: []byte(v)}, func(_ *kgo.Record, err error) {
			if err != nil {
				fail("produce to %s: %v", topic, err)
			}
		})
	}
	if err := p.Flush(ctx); err != nil {
		fail("flush to %s: %v", topic, err)
	}
}

// consumers: share consumers of one group polling in goroutines of their own.
type consumers struct {
	wg      sync.WaitGroup
	mine    []int
	ackErrs chan string
}

// startConsumers starts n share consumers of group on topic. Each polls, logs
// every record it gets in l, acknowledges it with decide(consumer, record),
// and stops once stop() says so, then flushes its acknowledgements and closes
// (leaving the group).
func startConsumers(ctx context.Context, group, topic string, n int, l *ledger,
	decide func(id int, r *kgo.Record) kgo.AckStatus, stop func() bool) *consumers {
	cs := &consumers{mine: make([]int, n), ackErrs: make(chan string, 1000)}
	for id := 0; id < n; id++ {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topic), kgo.ShareGroup(group),
			kgo.ShareMaxRecords(50), kgo.FetchMaxWait(time.Second),
			// Acknowledgements the broker refuses would otherwise be invisible.
			kgo.ShareAckCallback(func(_ *kgo.Client, rs kgo.ShareAckResults) {
				for _, r := range rs {
					if r.Err != nil {
						select {
						case cs.ackErrs <- fmt.Sprintf("consumer %d: ack of %s[%d]: %v", id, r.Topic, r.Partition, r.Err):
						default:
						}
					}
				}
			}))
		if err != nil {
			fail("share consumer: %v", err)
		}
		cs.wg.Add(1)
		go func() {
			defer cs.wg.Done()
			for !stop() {
				pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
				fetches := cl.PollFetches(pctx)
				pcancel()
				if ctx.Err() != nil {
					fail("%s: consumer %d still polling at the deadline", group, id)
				}
				fetches.EachError(func(t string, p int32, err error) {
					if !errors.Is(err, context.DeadlineExceeded) {
						fail("%s: consumer %d: fetch %s[%d]: %v", group, id, t, p, err)
					}
				})
				fetches.EachRecord(func(r *kgo.Record) {
					if r.DeliveryCount() < 1 {
						fail("%s: a share fetch record without a delivery count: %s", group, r.Value)
					}
					ack := decide(id, r)
					r.Ack(ack)
					l.add(string(r.Value), delivery{consumer: id, count: r.DeliveryCount(), ack: ack})
					cs.mine[id]++
				})
			}
			fctx, fcancel := context.WithTimeout(ctx, 15*time.Second)
			if err := cl.FlushAcks(fctx); err != nil {
				fail("%s: consumer %d: flush acks: %v", group, id, err)
			}
			fcancel()
			cl.Close()
		}()
	}
	return cs
}

// wait: the consumers' record counts, once all have closed; a refused
// acknowledgement fails.
func (cs *consumers) wait() []int {
	cs.wg.Wait()
	close(cs.ackErrs)
	var errs []string
	for e := range cs.ackErrs {
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		fail("acknowledgements refused:\n%s", strings.Join(errs, "\n"))
	}
	return cs.mine
}

// waitAssigned: the group has `members` members and every partition of the
// topic is assigned, so records produced now reach all of them.
func waitAssigned(ctx context.Context, group, topic string, members int, partitions int) {
	by := time.Now().Add(60 * time.Second)
	for {
		d, err := adm.DescribeShareGroups(ctx, group)
		if err == nil && d.Error() == nil {
			g := d[group]
			assigned := map[int32]bool{}
			for _, m := range g.Members {
				for p := range m.Assignment[topic] {
					assigned[p] = true
				}
			}
			if len(g.Members) >= members && len(assigned) == partitions {
				return
			}
		}
		if time.Now().After(by) {
			fail("%s: not %d members with all %d partitions of %s after 60 s (describe: %+v, %v)", group, members,
				partitions, topic, d, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkSettled: with the scenario's consumers gone, a new consumer of the
// group gets the marker produced on each partition and nothing else, and the
// group's start offset on each partition is its end offset.
func checkSettled(ctx context.Context, group, topic string, partitions int32) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topic), kgo.ShareGroup(group),
		kgo.FetchMaxWait(time.Second))
	if err != nil {
		fail("checker: %v", err)
	}
	waitAssigned(ctx, group, topic, 1, int(partitions))
	p, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		fail("producer: %v", err)
	}
	for i := int32(0); i < partitions; i++ {
		v := fmt.Sprintf("marker-%d", i)
		if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte(v), Partition: i}).FirstErr(); err != nil {
			fail("produce %s: %v", v, err)
		}
	}
	p.Close()
	markers := 0
	var extra []string
	var graceUntil time.Time // polls on a while after the last marker: a straggler would show
	for graceUntil.IsZero() || time.Now().Before(graceUntil) {
		pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fetches := cl.PollFetches(pctx)
		pcancel()
		if ctx.Err() != nil {
			fail("%s: the markers did not come (%d of %d) before the deadline", group, markers, partitions)
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				fail("%s: checker: fetch %s[%d]: %v", group, t, p, err)
			}
		})
		fetches.EachRecord(func(r *kgo.Record) {
			r.Ack(kgo.AckAccept)
			if strings.HasPrefix(string(r.Value), "marker-") && r.DeliveryCount() == 1 {
				markers++
			} else {
				extra = append(extra, fmt.Sprintf("%s (delivery %d)", r.Value, r.DeliveryCount()))
			}
		})
		if markers == int(partitions) && graceUntil.IsZero() {
			graceUntil = time.Now().Add(2 * time.Second)
		}
	}
	fctx, fcancel := context.WithTimeout(ctx, 15*time.Second)
	if err := cl.FlushAcks(fctx); err != nil {
		fail("%s: checker: flush acks: %v", group, err)
	}
	fcancel()
	cl.Close()
	if len(extra) > 0 {
		fail("%s: %d records delivered again after the scenario: %v", group, len(extra), extra)
	}
	// The start offsets: everything below the end is settled (an accepted
	// record left in the group would hold its partition's start back).
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		fail("list end offsets: %v", err)
	}
	by := time.Now().Add(10 * time.Second)
	for {
		var wrong []string
		offs, err := adm.DescribeShareGroupOffsets(ctx, group)
		if err != nil {
			wrong = append(wrong, err.Error())
		} else {
			for i := int32(0); i < partitions; i++ {
				end, _ := ends.Lookup(topic, i)
				o, ok := offs[group].Offsets.Lookup(topic, i)
				if !ok || o.Err != nil || o.StartOffset != end.Offset {
					wrong = append(wrong, fmt.Sprintf("%s[%d] start %d (%v) end %d", topic, i, o.StartOffset, o.Err, end.Offset))
				}
			}
		}
		if len(wrong) == 0 {
			break
		}
		if time.Now().After(by) {
			fail("%s: share group start offsets not at the end: %v", group, wrong)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// exactlyOnce: three consumers, all in the group before the 900 records are
// produced, accept each once between them.
func exactlyOnce(ctx context.Context) {
	const n = 900
	topic, group := "franz-share", "fs-once"
	prepare(ctx, topic, 3, group)
	l := newLedger()
	cs := startConsumers(ctx, group, topic, 3, l,
		func(int, *kgo.Record) kgo.AckStatus { return kgo.AckAccept },
		func() bool { return l.settled(0) >= n })
	waitAssigned(ctx, group, topic, 3, 3)
	produce(ctx, topic, "job-", n)
	mine := cs.wait()
	var dups []string
	for v, ds := range l.byValue {
		if len(ds) != 1 {
			dups = append(dups, fmt.Sprintf("%s x%d", v, len(ds)))
		}
	}
	if len(dups) > 0 {
		fail("exactly-once: %d records delivered more than once: %v", len(dups), dups)
	}
	if len(l.byValue) != n {
		fail("exactly-once: %d of %d records delivered", len(l.byValue), n)
	}
	busy := 0
	for _, m := range mine {
		if m > 0 {
			busy++
		}
	}
	if busy < 2 {
		fail("exactly-once: the records were not shared between the consumers: %v", mine)
	}
	checkSettled(ctx, group, topic, 3)
	fmt.Printf("exactly-once: %d records accepted once each, per consumer %v\n", n, mine)
}

// release: consumer 0 releases the first 20 records it gets and accepts the
// rest; consumer 1 accepts all. The released records come back with delivery
// count 2 and are accepted; every other record is delivered once.
func release(ctx context.Context) {
	const n, released = 300, 20
	topic, group := "franz-share-release", "fs-release"
	prepare(ctx, topic, 3, group)
	produce(ctx, topic, "r-", n)
	l := newLedger()
	let := 0 // records consumer 0 released: only its goroutine counts them
	cs := startConsumers(ctx, group, topic, 2, l,
		func(id int, r *kgo.Record) kgo.AckStatus {
			if id == 0 && let < released && r.DeliveryCount() == 1 {
				let++
				return kgo.AckRelease
			}
			return kgo.AckAccept
		},
		func() bool { return l.settled(0) >= n })
	mine := cs.wait()
	again, byOther := 0, 0
	for v, ds := range l.byValue {
		first := ds[0]
		switch {
		case first.count != 1:
			fail("release: %s first delivered with count %d", v, first.count)
		case first.ack == kgo.AckRelease:
			if len(ds) != 2 || ds[1].count != 2 || ds[1].ack != kgo.AckAccept {
				fail("release: released %s: deliveries %+v, want one more with count 2, accepted", v, ds)
			}
			again++
			if ds[1].consumer != 0 {
				byOther++
			}
		case len(ds) != 1:
			fail("release: %s accepted but delivered %d times: %+v", v, len(ds), ds)
		}
	}
	if len(l.byValue) != n {
		fail("release: %d of %d records delivered", len(l.byValue), n)
	}
	if again != released {
		fail("release: %d records released and delivered again, want %d", again, released)
	}
	checkSettled(ctx, group, topic, 3)
	fmt.Printf("release: %d records; %d released, all back with delivery count 2 (%d to the other consumer) and accepted; per consumer %v\n",
		n, again, byOther, mine)
}

// reject: every third record is rejected, the others accepted; a rejected
// record is never delivered again (checkSettled: nor to a new consumer).
func reject(ctx context.Context) {
	const n = 60
	topic, group := "franz-share-reject", "fs-reject"
	prepare(ctx, topic, 1, group)
	produce(ctx, topic, "x-", n)
	l := newLedger()
	cs := startConsumers(ctx, group, topic, 1, l,
		func(_ int, r *kgo.Record) kgo.AckStatus {
			var i int
			fmt.Sscanf(string(r.Value), "x-%d", &i)
			if i%3 == 0 {
				return kgo.AckReject
			}
			return kgo.AckAccept
		},
		func() bool { return l.settled(0) >= n })
	cs.wait()
	rejected := 0
	for v, ds := range l.byValue {
		if len(ds) != 1 || ds[0].count != 1 {
			fail("reject: %s delivered %d times: %+v", v, len(ds), ds)
		}
		if ds[0].ack == kgo.AckReject {
			rejected++
		}
	}
	if len(l.byValue) != n || rejected != n/3 {
		fail("reject: %d of %d records delivered, %d rejected", len(l.byValue), n, rejected)
	}
	checkSettled(ctx, group, topic, 1)
	fmt.Printf("reject: %d records, %d rejected and never delivered again, %d accepted\n", n, rejected, n-rejected)
}

// limit: records released at every delivery are delivered 3 times (the
// broker's group.share.delivery.count.limit), counted 1, 2, 3, then archived.
func limit(ctx context.Context) {
	const n, max = 5, 3
	topic, group := "franz-share-limit", "fs-limit"
	prepare(ctx, topic, 1, group)
	produce(ctx, topic, "l-", n)
	l := newLedger()
	cs := startConsumers(ctx, group, topic, 1, l,
		func(int, *kgo.Record) kgo.AckStatus { return kgo.AckRelease },
		func() bool { return l.settled(max) >= n })
	cs.wait()
	for v, ds := range l.byValue {
		var counts []int32
		for _, d := range ds {
			counts = append(counts, d.count)
		}
		if !slices.Equal(counts, []int32{1, 2, 3}) {
			fail("limit: %s delivered with counts %v, want [1 2 3]", v, counts)
		}
	}
	if len(l.byValue) != n {
		fail("limit: %d of %d records delivered", len(l.byValue), n)
	}
	// A fourth delivery would reach the new consumer of checkSettled.
	checkSettled(ctx, group, topic, 1)
	fmt.Printf("limit: %d records released at each delivery, delivered %d times each, then not again\n", n, max)
}

func main() {
	flag.StringVar(&brokers, "brokers", "", "bootstrap host:port")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	var err error
	admin, err = kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		fail("client: %v", err)
	}
	adm = kadm.NewClient(admin)
	exactlyOnce(ctx)
	release(ctx)
	reject(ctx)
	limit(ctx)
	admin.Close()
	fmt.Println("OK franz-go share groups")
}
