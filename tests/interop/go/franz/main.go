// Command franz produces and consumes 10,000 keyed records with headers
// through a consumer group with franz-go, against the broker at -brokers.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const n = 10000

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	brokers := flag.String("brokers", "", "bootstrap host:port")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	topic := fmt.Sprintf("franz-%d", time.Now().UnixNano())

	admin, err := kgo.NewClient(kgo.SeedBrokers(*brokers))
	if err != nil {
		fail("client: %v", err)
	}
	if _, err := kadm.NewClient(admin).CreateTopic(ctx, 4, 1, nil, topic); err != nil {
		fail("create topic: %v", err)
	}

	producer, err := kgo.NewClient(kgo.SeedBrokers(*brokers), kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	if err != nil {
		fail("producer: %v", err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var produceErr error
	for i := 0; i < n; i++ {
		wg.Add(1)
		rec := &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("key-%d", i)), Value: []byte(fmt.Sprintf("value-%d", i)),
			Headers: []kgo.RecordHeader{{Key: "idx", Value: []byte(strconv.Itoa(i))}, {Key: "src", Value: []byte("franz-go")}}}
		producer.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				produceErr = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	producer.Close()
	if produceErr != nil {
		fail("produce: %v", produceErr)
	}

	group := "grp-franz"
	consumer, err := kgo.NewClient(kgo.SeedBrokers(*brokers), kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		fail("consumer: %v", err)
	}
	seen := map[string]bool{}
	for len(seen) < n {
		fetches := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			fail("consumed %d of %d before the deadline", len(seen), n)
		}
		fetches.EachError(func(t string, p int32, err error) { fail("fetch %s[%d]: %v", t, p, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			key := string(r.Key)
			if seen[key] {
				fail("duplicate %s", key)
			}
			seen[key] = true
			if string(r.Value) != "value-"+key[4:] || len(r.Headers) != 2 || string(r.Headers[0].Value) != key[4:] {
				fail("bad record %s: %q %v", key, r.Value, r.Headers)
			}
		})
		if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
			fail("commit: %v", err)
		}
	}
	consumer.Close()

	offsets, err := kadm.NewClient(admin).FetchOffsets(ctx, group)
	if err != nil {
		fail("fetch offsets: %v", err)
	}
	var total int64
	offsets.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != n {
		fail("committed %d", total)
	}
	admin.Close()
	fmt.Printf("OK franz-go: %d records produced and consumed through group %s\n", n, group)
}
