package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Versions both Kafka 4.4 and kwire-broker serve; both are flexible.
const (
	metadataVersion = 12
	produceVersion  = 9
)

// connections opens o.conns TCP connections of its own (a franz-go client
// would open several per broker: seed, metadata, produce), asks Metadata for
// the topic on each, and once all are open has each send o.requests acks=1
// produce requests of one record of o.size bytes, one at a time, to the
// partitions in turn. The rate counts the produce phase only.
func connections(ctx context.Context, o options) (result, error) {
	value := make([]byte, o.size)
	_, _ = rand.Read(value)

	type conn struct {
		c         net.Conn
		rd        *bufio.Reader
		partition int32
		connect   time.Duration
		lat       []time.Duration
		err       error
	}
	cs := make([]*conn, o.conns)
	var wg sync.WaitGroup
	openStart := time.Now()
	for i := range cs {
		cs[i] = &conn{}
		wg.Add(1)
		go func(c *conn) {
			defer wg.Done()
			t := time.Now()
			var d net.Dialer
			nc, err := d.DialContext(ctx, "tcp", o.brokers)
			if err != nil {
				c.err = err
				return
			}
			c.c, c.rd = nc, bufio.NewReader(nc)
			req := kmsg.NewPtrMetadataRequest()
			req.Version = metadataVersion
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(o.topic)
			req.Topics = append(req.Topics, rt)
			resp := kmsg.NewPtrMetadataResponse()
			if c.err = roundTrip(c.c, c.rd, req, resp, 1); c.err != nil {
				return
			}
			if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 || len(resp.Topics[0].Partitions) == 0 {
				c.err = fmt.Errorf("metadata for %s: %+v", o.topic, resp.Topics)
				return
			}
			c.connect = time.Since(t)
		}(cs[i])
	}
	wg.Wait()
	r := result{Mode: "conns", Conns: o.conns, ConnectS: time.Since(openStart).Seconds()}
	defer func() {
		for _, c := range cs {
			if c.c != nil {
				c.c.Close()
			}
		}
	}()
	var connects []time.Duration
	for i, c := range cs {
		if c.err != nil {
			return r, fmt.Errorf("connection %d: %w", i, c.err)
		}
		c.partition = int32(i % o.partitions)
		connects = append(connects, c.connect)
	}
	r.ConnectP99 = percentile(connects, 0.99)

	start := time.Now()
	for _, c := range cs {
		wg.Add(1)
		go func(c *conn) {
			defer wg.Done()
			for k := 0; k < o.requests && c.err == nil; k++ {
				req := produceRequest(o.topic, c.partition, value)
				resp := kmsg.NewPtrProduceResponse()
				t := time.Now()
				if c.err = roundTrip(c.c, c.rd, req, resp, int32(k+2)); c.err != nil {
					return
				}
				c.lat = append(c.lat, time.Since(t))
				for _, tr := range resp.Topics {
					for _, pr := range tr.Partitions {
						if pr.ErrorCode != 0 {
							c.err = fmt.Errorf("produce to %s[%d]: %w", tr.Topic, pr.Partition, kerr.ErrorForCode(pr.ErrorCode))
						}
					}
				}
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var lat []time.Duration
	for _, c := range cs {
		lat = append(lat, c.lat...)
		if c.err != nil {
			r.Errors++
			if r.FirstError == "" {
				r.FirstError = c.err.Error()
			}
		}
	}
	r.Records, r.Requests = len(lat), len(lat)
	r.Bytes = int64(len(lat)) * int64(o.size)
	rate(&r, elapsed)
	r.RequestP50, r.RequestP99 = percentile(lat, 0.50), percentile(lat, 0.99)
	if r.Errors > 0 {
		return r, fmt.Errorf("%d connections failed, first: %s", r.Errors, r.FirstError)
	}
	return r, nil
}

func produceRequest(topic string, partition int32, value []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version = produceVersion
	req.Acks = 1
	req.TimeoutMillis = 30000
	t := kmsg.NewProduceRequestTopic()
	t.Topic = topic
	p := kmsg.NewProduceRequestTopicPartition()
	p.Partition = partition
	p.Records = recordBatch(value, time.Now().UnixMilli())
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	return req
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordBatch is a magic-2 batch holding one record with no key and no
// headers, from no idempotent producer.
func recordBatch(value []byte, ts int64) []byte {
	var rec []byte
	rec = append(rec, 0)               // attributes
	rec = binary.AppendVarint(rec, 0)  // timestamp delta
	rec = binary.AppendVarint(rec, 0)  // offset delta
	rec = binary.AppendVarint(rec, -1) // no key
	rec = binary.AppendVarint(rec, int64(len(value)))
	rec = append(rec, value...)
	rec = binary.AppendVarint(rec, 0) // headers

	b := make([]byte, 0, 61+len(rec)+5)
	b = binary.BigEndian.AppendUint64(b, 0)          // base offset
	b = binary.BigEndian.AppendUint32(b, 0)          // batch length, below
	b = binary.BigEndian.AppendUint32(b, 0xffffffff) // partition leader epoch -1
	b = append(b, 2)                                 // magic
	b = binary.BigEndian.AppendUint32(b, 0)          // CRC, below
	crcFrom := len(b)
	b = binary.BigEndian.AppendUint16(b, 0)                  // attributes
	b = binary.BigEndian.AppendUint32(b, 0)                  // last offset delta
	b = binary.BigEndian.AppendUint64(b, uint64(ts))         // base timestamp
	b = binary.BigEndian.AppendUint64(b, uint64(ts))         // max timestamp
	b = binary.BigEndian.AppendUint64(b, 0xffffffffffffffff) // producer id -1
	b = binary.BigEndian.AppendUint16(b, 0xffff)             // producer epoch -1
	b = binary.BigEndian.AppendUint32(b, 0xffffffff)         // base sequence -1
	b = binary.BigEndian.AppendUint32(b, 1)                  // one record
	b = binary.AppendVarint(b, int64(len(rec)))
	b = append(b, rec...)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[crcFrom-4:], crc32.Checksum(b[crcFrom:], castagnoli))
	return b
}

// roundTrip writes one request and reads its response (requests are not
// pipelined here, so the next frame is the answer).
func roundTrip(c net.Conn, rd *bufio.Reader, req kmsg.Request, resp kmsg.Response, corr int32) error {
	var f kmsg.RequestFormatter
	if _, err := c.Write(f.AppendRequest(nil, req, corr)); err != nil {
		return err
	}
	var size [4]byte
	if _, err := io.ReadFull(rd, size[:]); err != nil {
		return err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(rd, body); err != nil {
		return err
	}
	if len(body) < 4 || int32(binary.BigEndian.Uint32(body)) != corr {
		return fmt.Errorf("response to correlation id %d does not match", corr)
	}
	body = body[4:]
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() {
		// Response header v1: tagged fields, none of which we need.
		n, read := binary.Uvarint(body)
		if read <= 0 {
			return fmt.Errorf("bad response header")
		}
		body = body[read:]
		for ; n > 0; n-- {
			_, a := binary.Uvarint(body)
			size, b := binary.Uvarint(body[max(a, 0):])
			if a <= 0 || b <= 0 || uint64(len(body)) < uint64(a+b)+size {
				return fmt.Errorf("bad response header")
			}
			body = body[uint64(a+b)+size:]
		}
	}
	return resp.ReadFrom(body)
}
