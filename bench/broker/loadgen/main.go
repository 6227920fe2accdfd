// Command loadgen drives a Kafka broker (Apache Kafka or kwire-broker alike)
// with franz-go and prints one JSON object with what it measured.
//
//	loadgen create  -brokers H:P -topic T -partitions P
//	loadgen delete  -brokers H:P -topic T
//	loadgen produce -brokers H:P -topic T -records N -size S -acks all|1|0
//	                [-linger 5ms] [-batch-bytes 16384] [-inflight 5]
//	loadgen consume -brokers H:P -topic T -records N
//	loadgen conns   -brokers H:P -topic T -conns C -requests K -size S
//
// Rates count record values only (no keys, headers or batch overhead), as
// Kafka's perf tools do; MB is 2^20 bytes. The exit status is non-zero when
// any record failed or fewer than N were read: a benchmark row with errors
// has no figure worth printing.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

type options struct {
	brokers    string
	topic      string
	partitions int
	records    int
	size       int
	acks       string
	linger     time.Duration
	batchBytes int
	inflight   int
	conns      int
	requests   int
	timeout    time.Duration
}

// result is printed as JSON; fields that a mode does not measure stay out.
type result struct {
	Mode        string   `json:"mode"`
	Records     int      `json:"records"`
	Bytes       int64    `json:"bytes"`
	Seconds     float64  `json:"seconds"`
	RecordsPerS float64  `json:"records_per_s"`
	MBPerS      float64  `json:"mb_per_s"`
	Errors      int64    `json:"errors"`
	FirstError  string   `json:"first_error,omitempty"`
	RecordP50   *float64 `json:"record_p50_ms,omitempty"`
	RecordP99   *float64 `json:"record_p99_ms,omitempty"`
	Requests    int      `json:"requests,omitempty"`
	RequestP50  *float64 `json:"request_p50_ms,omitempty"`
	RequestP99  *float64 `json:"request_p99_ms,omitempty"`
	Conns       int      `json:"conns,omitempty"`
	ConnectS    float64  `json:"connect_s,omitempty"`
	ConnectP99  *float64 `json:"connect_p99_ms,omitempty"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen create|delete|produce|consume|conns [flags]")
		os.Exit(2)
	}
	mode := os.Args[1]
	var o options
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	fs.StringVar(&o.brokers, "brokers", "127.0.0.1:9092", "bootstrap host:port")
	fs.StringVar(&o.topic, "topic", "loadgen", "topic")
	fs.IntVar(&o.partitions, "partitions", 1, "partitions (create)")
	fs.IntVar(&o.records, "records", 100000, "records to produce or read")
	fs.IntVar(&o.size, "size", 1024, "bytes per record value")
	fs.StringVar(&o.acks, "acks", "all", "all, 1 or 0")
	// Kafka 4's Java producer defaults: linger.ms 5, batch.size 16 KiB, 5 in flight.
	fs.DurationVar(&o.linger, "linger", 5*time.Millisecond, "producer linger")
	fs.IntVar(&o.batchBytes, "batch-bytes", 16384, "largest record batch")
	fs.IntVar(&o.inflight, "inflight", 5, "produce requests in flight per broker (without idempotence; with it franz-go uses 5)")
	fs.IntVar(&o.conns, "conns", 500, "connections (conns)")
	fs.IntVar(&o.requests, "requests", 20, "produce requests per connection (conns)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up after this long")
	_ = fs.Parse(os.Args[2:])

	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	var (
		r   result
		err error
	)
	switch mode {
	case "create":
		err = create(ctx, o)
	case "delete":
		err = remove(ctx, o)
	case "produce":
		r, err = produce(ctx, o)
	case "consume":
		r, err = consume(ctx, o)
	case "conns":
		r, err = connections(ctx, o)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if r.Mode != "" {
		out, _ := json.Marshal(r)
		fmt.Println(string(out))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func admin(o options) (*kadm.Client, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(o.brokers))
	if err != nil {
		return nil, err
	}
	return kadm.NewClient(cl), nil
}

func create(ctx context.Context, o options) error {
	adm, err := admin(o)
	if err != nil {
		return err
	}
	defer adm.Close()
	resp, err := adm.CreateTopic(ctx, int32(o.partitions), 1, nil, o.topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", o.topic, err)
	}
	// Kafka answers CreateTopics before its partitions serve, and its
	// Metadata names their leader a moment before the leader has opened the
	// log: a produce then gets NOT_LEADER_OR_FOLLOWER, and franz-go waits
	// for its next metadata refresh (5 s) before retrying. Wait until every
	// partition answers ListOffsets, so that the row's clock starts on a
	// topic that serves.
	for {
		offs, err := adm.ListEndOffsets(ctx, o.topic)
		if err == nil && offs.Error() == nil {
			n := 0
			offs.Each(func(kadm.ListedOffset) { n++ })
			if n == o.partitions {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s has no leaders: %w", o.topic, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func remove(ctx context.Context, o options) error {
	adm, err := admin(o)
	if err != nil {
		return err
	}
	defer adm.Close()
	resp, err := adm.DeleteTopic(ctx, o.topic)
	if err == nil {
		err = resp.Err
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return nil
	}
	return err
}

func rate(r *result, elapsed time.Duration) {
	r.Seconds = elapsed.Seconds()
	if r.Seconds > 0 {
		r.RecordsPerS = float64(r.Records) / r.Seconds
		r.MBPerS = float64(r.Bytes) / (1 << 20) / r.Seconds
	}
}

// percentile of durations (sorted in place), in milliseconds; nil if none.
func percentile(d []time.Duration, p float64) *float64 {
	if len(d) == 0 {
		return nil
	}
	slices.Sort(d)
	i := int(p * float64(len(d)-1))
	ms := float64(d[i]) / float64(time.Millisecond)
	return &ms
}
