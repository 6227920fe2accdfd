package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// requestTimer collects the round trip of every produce request: from the
// start of its write to the end of reading its response, as franz-go's
// BrokerE2E hook reports it.
type requestTimer struct {
	mu   sync.Mutex
	durs []time.Duration
}

func (t *requestTimer) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if key != 0 || e2e.Err() != nil {
		return
	}
	t.mu.Lock()
	t.durs = append(t.durs, e2e.DurationE2E())
	t.mu.Unlock()
}

func producerOpts(o options, timer *requestTimer) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(o.brokers),
		kgo.DefaultProduceTopic(o.topic),
		// Kafka's perf test sends uncompressed random bytes; franz-go's
		// default would try snappy.
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerLinger(o.linger),
		kgo.ProducerBatchMaxBytes(int32(o.batchBytes)),
		// The Java producer's buffer.memory.
		kgo.MaxBufferedBytes(32 << 20),
		kgo.WithHooks(timer),
	}
	switch o.acks {
	case "all", "-1":
		// Idempotent, as the Java producer is by default with acks=all.
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(),
			kgo.MaxProduceRequestsInflightPerBroker(o.inflight))
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite(),
			kgo.MaxProduceRequestsInflightPerBroker(o.inflight))
	default:
		return nil, fmt.Errorf("acks must be all, 1 or 0, not %q", o.acks)
	}
	return opts, nil
}

// produce sends o.records records of o.size random bytes (one payload shared
// by all) as fast as the client lets it. A record's latency runs from the
// call to Produce to its promise, as kafka-producer-perf-test measures from
// send() to its callback: it includes the time spent in the client's buffer.
func produce(ctx context.Context, o options) (result, error) {
	timer := &requestTimer{}
	opts, err := producerOpts(o, timer)
	if err != nil {
		return result{}, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return result{}, err
	}
	defer cl.Close()
	// Metadata first, so that the clock measures producing only.
	if err := cl.Ping(ctx); err != nil {
		return result{}, err
	}

	value := make([]byte, o.size)
	_, _ = rand.Read(value)
	lat := make([]time.Duration, o.records)
	var (
		failed   atomic.Int64
		firstErr atomic.Value
	)
	start := time.Now()
	for i := 0; i < o.records; i++ {
		sent := time.Now()
		slot := &lat[i]
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			*slot = time.Since(sent)
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return result{}, err
	}
	elapsed := time.Since(start)

	r := result{Mode: "produce", Records: o.records, Bytes: int64(o.records) * int64(o.size), Errors: failed.Load()}
	if s, ok := firstErr.Load().(string); ok {
		r.FirstError = s
	}
	rate(&r, elapsed)
	r.RecordP50, r.RecordP99 = percentile(lat, 0.50), percentile(lat, 0.99)
	timer.mu.Lock()
	r.Requests = len(timer.durs)
	r.RequestP50, r.RequestP99 = percentile(timer.durs, 0.50), percentile(timer.durs, 0.99)
	timer.mu.Unlock()
	if r.Errors > 0 {
		return r, fmt.Errorf("%d records failed, first: %s", r.Errors, r.FirstError)
	}
	return r, nil
}

// consume reads o.records records of the topic from its start, without a
// group (every partition, as assigned by the client itself).
func consume(ctx context.Context, o options) (result, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(o.brokers),
		kgo.ConsumeTopics(o.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		return result{}, err
	}
	defer cl.Close()
	if err := cl.Ping(ctx); err != nil {
		return result{}, err
	}
	r := result{Mode: "consume"}
	start := time.Now()
	for r.Records < o.records {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			rate(&r, time.Since(start))
			return r, fmt.Errorf("read %d of %d records: %w", r.Records, o.records, err)
		}
		for _, fe := range fetches.Errors() {
			r.Errors++
			if r.FirstError == "" {
				r.FirstError = fmt.Sprintf("%s[%d]: %v", fe.Topic, fe.Partition, fe.Err)
			}
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			r.Records++
			r.Bytes += int64(len(rec.Value))
		})
	}
	rate(&r, time.Since(start))
	if r.Errors > 0 {
		return r, fmt.Errorf("%d fetch errors, first: %s", r.Errors, r.FirstError)
	}
	return r, nil
}
