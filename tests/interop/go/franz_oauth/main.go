// Command franz_oauth logs in to the broker at -brokers with SASL/OAUTHBEARER
// (franz-go's sasl/oauth) using the token in the file -token. With -expect
// ok it produces -n records to a new topic and reads them back; with
// -expect refused the login must fail and nothing be produced.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	brokers := flag.String("brokers", "", "bootstrap host:port")
	tokenFile := flag.String("token", "", "file holding the JWT")
	expect := flag.String("expect", "ok", "ok or refused")
	n := flag.Int("n", 1000, "records to produce and read back")
	flag.Parse()
	raw, err := os.ReadFile(*tokenFile)
	if err != nil {
		fail("token: %v", err)
	}
	mech := oauth.Auth{Token: strings.TrimSpace(string(raw))}.AsMechanism()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	topic := fmt.Sprintf("franz-oauth-%d", time.Now().UnixNano())

	client, err := kgo.NewClient(kgo.SeedBrokers(*brokers), kgo.SASL(mech), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.RequestRetries(1))
	if err != nil {
		fail("client: %v", err)
	}
	defer client.Close()
	admin := kadm.NewClient(client)

	if *expect == "refused" {
		short, cancelShort := context.WithTimeout(ctx, 15*time.Second)
		defer cancelShort()
		_, err := admin.CreateTopic(short, 1, 1, nil, topic)
		if err == nil {
			fail("a refused token created a topic")
		}
		if !strings.Contains(strings.ToLower(err.Error()), "sasl") && !strings.Contains(err.Error(), "oauth") &&
			!errors.Is(err, context.DeadlineExceeded) {
			fail("refused for another reason: %v", err)
		}
		fmt.Printf("refused as expected: %v\n", err)
		return
	}

	if _, err := admin.CreateTopic(ctx, 2, 1, nil, topic); err != nil {
		fail("create topic: %v", err)
	}
	for i := 0; i < *n; i++ {
		client.Produce(ctx, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("oauth-%d", i))}, func(_ *kgo.Record, err error) {
			if err != nil {
				fail("produce: %v", err)
			}
		})
	}
	if err := client.Flush(ctx); err != nil {
		fail("flush: %v", err)
	}
	seen := map[string]bool{}
	for len(seen) < *n {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			fail("read %d of %d records", len(seen), *n)
		}
		fetches.EachError(func(t string, p int32, err error) { fail("fetch %s/%d: %v", t, p, err) })
		fetches.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}
	for i := 0; i < *n; i++ {
		if !seen[fmt.Sprintf("oauth-%d", i)] {
			fail("record %d missing", i)
		}
	}
	fmt.Printf("franz-go over OAUTHBEARER: produced and read %d records\n", *n)
}
