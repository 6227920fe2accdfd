// Command check proves that the franz-go packages kwire's interop programs use
// resolve and build. With -brokers it also produces one record to -topic on a
// real broker and reads it back, printing "franz-go ok" on success.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func main() {
	brokers := flag.String("brokers", "", "bootstrap address (host:port); empty: only build")
	topic := flag.String("topic", "peers-smoke-go", "topic to produce to and consume from")
	flag.Parse()
	if *brokers == "" {
		fmt.Printf("franz-go builds: ApiVersions key %d, newest version %d\n",
			kmsg.NewPtrApiVersionsRequest().Key(), kmsg.NewPtrApiVersionsRequest().MaxVersion())
		return
	}
	if err := roundTrip(*brokers, *topic); err != nil {
		fmt.Fprintln(os.Stderr, "franz-go:", err)
		os.Exit(1)
	}
	fmt.Println("franz-go ok")
}

func roundTrip(brokers, topic string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		return err
	}
	_, err = kadm.NewClient(admin).CreateTopic(ctx, 1, 1, nil, topic)
	admin.Close()
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic: %w", err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	want := "hello from franz-go"
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(want)}).FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	for {
		fetches := cl.PollFetches(ctx)
		if errs := fetches.Errors(); len(errs) > 0 {
			return fmt.Errorf("fetch: %v", errs[0].Err)
		}
		for _, r := range fetches.Records() {
			if string(r.Value) == want {
				return nil
			}
		}
	}
}
