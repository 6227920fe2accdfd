// Command txn_checker moves -records sequence-numbered records from chk-in to
// chk-out with -workers transactional consume-transform-produce workers
// (GroupTransactSession, input offsets committed in each transaction) while
// the broker at -brokers is killed and restarted from outside, and checks
// what Jepsen's queue and transaction workloads check: every input record in
// the output exactly once (no lost writes, no duplicates), no record of a
// transaction known aborted ever read with read_committed (aborted reads),
// nothing read by a concurrent read_committed observer that a final read
// does not have (G1a), and offsets (the output's, as read, and the group's
// committed ones) never going backwards.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	inTopic  = "chk-in"
	outTopic = "chk-out"
	group    = "chk-group"
)

var (
	brokers    = flag.String("brokers", "", "bootstrap host:port")
	records    = flag.Int("records", 3000, "input records")
	workers    = flag.Int("workers", 3, "transactional workers")
	partitions = flag.Int("partitions", 4, "partitions of chk-in and chk-out")
	duration   = flag.Duration("duration", 180*time.Second, "time limit for moving every record")
	batch      = flag.Int("batch", 10, "input records per transaction at most")
	pause      = flag.Duration("pause", 200*time.Millisecond, "pause after each transaction, so that the run spans the broker kills")
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func note(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().UTC().Format("15:04:05.000")+" "+format+"\n", args...)
}

func client(opts ...kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(*brokers)}, opts...)...)
	if err != nil {
		fail("client: %v", err)
	}
	return cl
}

// The outcome of each worker's transactions, keyed "worker|attempt".
type outcome int

const (
	committed outcome = iota
	aborted           // End reported an abort it saw through
	unknown           // the commit's outcome was lost with the connection
)

// Read without the lock once the workers have stopped.
type ledger struct {
	mu       sync.Mutex
	outcomes map[string]outcome
	restarts atomic.Int64
}

func (l *ledger) set(key string, o outcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.outcomes[key] = o
}

// split parses "<input>|<worker>|<attempt>" into the input number and the
// "worker|attempt" key of its transaction.
func split(v string) (int, string) {
	in, txn, ok := strings.Cut(v, "|")
	n, err := strconv.Atoi(in)
	if !ok || err != nil || n < 0 || n >= *records {
		fail("unexpected value %q in %s", v, outTopic)
	}
	return n, txn
}

// writeInput writes "0".."N-1" round robin over chk-in's partitions with an
// idempotent producer, again for any record not acknowledged.
func writeInput(ctx context.Context) {
	p := client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
	defer p.Close()
	todo := make([]*kgo.Record, *records)
	for i := range todo {
		todo[i] = &kgo.Record{Topic: inTopic, Partition: int32(i % *partitions), Value: []byte(strconv.Itoa(i))}
	}
	for len(todo) > 0 {
		if ctx.Err() != nil {
			fail("writing %s: %d records never acknowledged", inTopic, len(todo))
		}
		var again []*kgo.Record
		for _, r := range p.ProduceSync(ctx, todo...) {
			if r.Err != nil {
				again = append(again, &kgo.Record{Topic: inTopic, Partition: r.Record.Partition, Value: r.Record.Value})
			}
		}
		todo = again
	}
}

// worker is one transactional consume-transform-produce loop. It is also its
// sessions' logger: franz-go logs when it could not confirm how an EndTxn
// ended, and then an abort it reports may follow a commit that went through.
type worker struct {
	id          int
	attempt     int
	led         *ledger
	unconfirmed atomic.Bool
}

func (w *worker) Level() kgo.LogLevel { return kgo.LogLevelInfo }

func (w *worker) Log(_ kgo.LogLevel, msg string, _ ...any) {
	if strings.Contains(msg, "unconfirmed") || strings.Contains(msg, "unknown server error") {
		w.unconfirmed.Store(true)
	}
}

// run opens sessions until stop: End's errors are not retryable, so a
// failed session is closed and a new one (same transactional id, which
// fences and aborts whatever the old one left open) takes over.
func (w *worker) run(ctx context.Context, stop <-chan struct{}) {
	for first := true; ; first = false {
		select {
		case <-stop:
			return
		default:
		}
		if !first {
			w.led.restarts.Add(1)
		}
		sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(*brokers), kgo.WithLogger(w),
			kgo.TransactionalID(fmt.Sprintf("chk-worker-%d", w.id)), kgo.ConsumerGroup(group),
			kgo.ConsumeTopics(inTopic), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.RequireStableFetchOffsets(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.SessionTimeout(10*time.Second),
			kgo.RebalanceTimeout(10*time.Second), kgo.TransactionTimeout(8*time.Second))
		if err != nil {
			fail("worker %d session: %v", w.id, err)
		}
		w.session(ctx, stop, sess)
		sess.Close()
	}
}

// session moves records until stop or until a transaction ends in an error.
func (w *worker) session(ctx context.Context, stop <-chan struct{}, sess *kgo.GroupTransactSession) {
	pollCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-pollCtx.Done():
		}
	}()
	for pollCtx.Err() == nil {
		fetches := sess.PollRecords(pollCtx, *batch)
		if pollCtx.Err() != nil {
			return
		}
		fetches.EachError(func(t string, p int32, err error) { note("worker %d: fetch %s[%d]: %v", w.id, t, p, err) })
		if fetches.NumRecords() == 0 {
			continue
		}
		w.attempt++
		txn := fmt.Sprintf("%d|%d", w.id, w.attempt)
		if err := sess.Begin(); err != nil {
			note("worker %d: begin: %v", w.id, err)
			return
		}
		var produceErr atomic.Value
		fetches.EachRecord(func(r *kgo.Record) {
			out := &kgo.Record{Topic: outTopic, Key: r.Value, Value: []byte(string(r.Value) + "|" + txn)}
			sess.Produce(ctx, out, func(_ *kgo.Record, err error) {
				if err != nil {
					produceErr.CompareAndSwap(nil, err)
				}
			})
		})
		end := kgo.TryCommit
		if err := sess.Client().Flush(ctx); err != nil || produceErr.Load() != nil {
			end = kgo.TryAbort
		}
		w.unconfirmed.Store(false)
		ok, err := sess.End(ctx, end)
		switch {
		case err != nil || w.unconfirmed.Load():
			w.led.set(txn, unknown)
		case ok:
			w.led.set(txn, committed)
		default:
			w.led.set(txn, aborted)
		}
		if err != nil {
			note("worker %d: transaction %d: %v", w.id, w.attempt, err)
			return
		}
		time.Sleep(*pause)
	}
}

// A record of chk-out as read: where, and its value.
type at struct {
	partition int32
	offset    int64
}

// observer reads chk-out with read_committed from the start while the
// workers run; offsets must rise strictly per partition, across restarts.
type observer struct {
	mu    sync.Mutex
	read  map[at]string
	last  map[int32]int64
	seen  map[int]bool
	all   chan struct{}
	total int
}

func (o *observer) run(ctx context.Context) {
	c := client(kgo.ConsumeTopics(outTopic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer c.Close()
	for ctx.Err() == nil {
		fetches := c.PollFetches(ctx)
		fetches.EachError(func(t string, p int32, err error) {
			if ctx.Err() == nil {
				note("observer: fetch %s[%d]: %v", t, p, err)
			}
		})
		o.mu.Lock()
		fetches.EachRecord(func(r *kgo.Record) {
			if last, ok := o.last[r.Partition]; ok && r.Offset <= last {
				fail("observer: %s[%d] offset %d read after offset %d: offsets went backwards", outTopic, r.Partition, r.Offset, last)
			}
			o.last[r.Partition] = r.Offset
			o.read[at{r.Partition, r.Offset}] = string(r.Value)
			n, _ := split(string(r.Value))
			o.seen[n] = true
			o.total++
		})
		if len(o.seen) == *records && o.all != nil {
			close(o.all)
			o.all = nil
		}
		o.mu.Unlock()
	}
}

// watch polls the group's committed offsets and the log end offsets of both
// topics: none may ever decrease. It counts the outages it sees (polls
// failing after one succeeded): the broker kills the run went through.
func watch(ctx context.Context, adm *kadm.Client, outages *int) {
	last := map[string]int64{}
	up := true
	check := func(what, topic string, p int32, off int64) {
		key := fmt.Sprintf("%s %s[%d]", what, topic, p)
		if prev, ok := last[key]; ok && off < prev {
			fail("%s went back from %d to %d", key, prev, off)
		}
		last[key] = off
	}
	for tick := time.NewTicker(500 * time.Millisecond); ; {
		select {
		case <-ctx.Done():
			tick.Stop()
			return
		case <-tick.C:
		}
		// A poll of its own time limit: the client's retries would otherwise
		// wait out a broker that is down.
		pollCtx, cancel := context.WithTimeout(ctx, time.Second)
		offs, err := adm.FetchOffsets(pollCtx, group)
		if err != nil && up && ctx.Err() == nil {
			*outages++
		}
		up = err == nil
		if err == nil {
			offs.Each(func(o kadm.OffsetResponse) {
				if o.Err == nil && o.At >= 0 {
					check("committed offset of", o.Topic, o.Partition, o.At)
				}
			})
		}
		ends, err := adm.ListEndOffsets(pollCtx, inTopic, outTopic)
		cancel()
		if err == nil {
			ends.Each(func(o kadm.ListedOffset) {
				if o.Err == nil {
					check("log end offset of", o.Topic, o.Partition, o.Offset)
				}
			})
		}
	}
}

// finalRead reads a topic with read_committed from the start until it has
// every input value, then until nothing more comes for 3 s.
func finalRead(ctx context.Context, topic string) map[at]string {
	c := client(kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer c.Close()
	read := map[at]string{}
	seen := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for quiet := time.Now(); time.Since(quiet) < 3*time.Second && time.Now().Before(deadline); {
		pollCtx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := c.PollFetches(pollCtx)
		cancel()
		fetches.EachRecord(func(r *kgo.Record) {
			read[at{r.Partition, r.Offset}] = string(r.Value)
			in, _, _ := strings.Cut(string(r.Value), "|")
			seen[in] = true
		})
		if len(seen) < *records || fetches.NumRecords() > 0 {
			quiet = time.Now()
		}
	}
	return read
}

// checkOutput checks the final read of chk-out, and the observer's reads
// against it.
func checkOutput(final map[at]string, obs *observer, led *ledger) {
	where := map[int][]string{}
	for pos, v := range final {
		n, txn := split(v)
		where[n] = append(where[n], fmt.Sprintf("%s[%d]@%d %q", outTopic, pos.partition, pos.offset, v))
		if o, ok := led.outcomes[txn]; ok && o == aborted {
			fail("aborted read: %s[%d]@%d %q is of transaction %s, which ended in an abort", outTopic, pos.partition, pos.offset, v, txn)
		}
	}
	for n := 0; n < *records; n++ {
		switch len(where[n]) {
		case 0:
			fail("lost write: input record %d is not in %s", n, outTopic)
		case 1:
		default:
			fail("duplicate: input record %d is in %s %d times: %s", n, outTopic, len(where[n]), strings.Join(where[n], ", "))
		}
	}
	for pos, v := range obs.read {
		if got, ok := final[pos]; !ok || got != v {
			fail("dirty read (G1a): the observer read %q at %s[%d]@%d, the final read has %q", v, outTopic, pos.partition, pos.offset, got)
		}
	}
}

// checkInput checks chk-in has each value once (a duplicate there would be
// the input's, not the workers') and that the group's committed offsets are
// at its ends, waiting a little for the last commit markers.
func checkInput(ctx context.Context, adm *kadm.Client) {
	count := map[string]int{}
	for _, v := range finalRead(ctx, inTopic) {
		count[v]++
	}
	for n := 0; n < *records; n++ {
		if c := count[strconv.Itoa(n)]; c != 1 {
			fail("%s has record %d %d times", inTopic, n, c)
		}
	}
	ends, err := adm.ListEndOffsets(ctx, inTopic)
	if err != nil || ends.Error() != nil {
		fail("end offsets of %s: %v %v", inTopic, err, ends.Error())
	}
	var diff string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		offs, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			diff = err.Error()
			continue
		}
		diff = ""
		ends.Each(func(e kadm.ListedOffset) {
			if o, ok := offs.Lookup(e.Topic, e.Partition); !ok || o.Err != nil || o.At != e.Offset {
				diff += fmt.Sprintf(" %s[%d]: committed %d (%v), end %d;", e.Topic, e.Partition, o.At, o.Err, e.Offset)
			}
		})
		if diff == "" {
			return
		}
	}
	fail("committed offsets of %s are not the input's end offsets:%s", group, diff)
}

func main() {
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	adm := kadm.NewClient(client())
	for _, t := range []string{inTopic, outTopic} {
		if _, err := adm.CreateTopic(ctx, int32(*partitions), 1, nil, t); err != nil {
			fail("create topic %s: %v", t, err)
		}
	}
	writeInput(ctx)
	note("%d records in %s", *records, inTopic)

	runCtx, stopRun := context.WithCancel(ctx)
	led := &ledger{outcomes: map[string]outcome{}}
	obs := &observer{read: map[at]string{}, last: map[int32]int64{}, seen: map[int]bool{}, all: make(chan struct{})}
	all := obs.all
	var bg sync.WaitGroup
	outages := 0
	bg.Go(func() { obs.run(runCtx) })
	bg.Go(func() { watch(runCtx, adm, &outages) })
	stop := make(chan struct{})
	var ws sync.WaitGroup
	for i := 0; i < *workers; i++ {
		w := &worker{id: i, led: led}
		ws.Go(func() { w.run(ctx, stop) })
	}
	select {
	case <-all:
	case <-ctx.Done():
		obs.mu.Lock()
		var missing []string
		for n := 0; n < *records && len(missing) < 20; n++ {
			if !obs.seen[n] {
				missing = append(missing, strconv.Itoa(n))
			}
		}
		fail("lost writes? after %v the observer has read %d of the %d input records; not read: %s ...",
			*duration, len(obs.seen), *records, strings.Join(missing, " "))
	}
	close(stop)
	ws.Wait()
	stopRun()
	bg.Wait()

	// The checks have time of their own, whatever the run left of -duration.
	checkCtx, cancelCheck := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancelCheck()
	final := finalRead(checkCtx, outTopic)
	checkOutput(final, obs, led)
	checkInput(checkCtx, adm)
	counts := map[outcome]int{}
	for _, o := range led.outcomes {
		counts[o]++
	}
	fmt.Printf("OK txn-checker: %d records moved exactly once by %d workers; transactions: %d committed, %d aborted, %d unknown; "+
		"%d session restarts; %d broker outages seen; observer read %d records, final read %d; committed offsets at the input's ends\n",
		*records, *workers, counts[committed], counts[aborted], counts[unknown], led.restarts.Load(), outages, obs.total, len(final))
}
