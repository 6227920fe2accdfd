// The Go peer of bench/compare: franz-go's kmsg on the shared workloads.
//
//	go run . check DIR    decode, re-encode and compare with the input
//	KWIRE_COMPARE_DATA=DIR go test -run '^$' -bench . -benchmem
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type row struct {
	name, message string
	version       int16
	input         []byte
}

func loadRows(dir string) ([]row, error) {
	tsv, err := os.ReadFile(filepath.Join(dir, "rows.tsv"))
	if err != nil {
		return nil, err
	}
	var rows []row
	for _, line := range strings.Split(string(tsv), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		v, _ := strconv.Atoi(f[2])
		in, err := os.ReadFile(filepath.Join(dir, f[0]+".bin"))
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{f[0], f[1], int16(v), in})
	}
	return rows, nil
}

// batch is a decoded record batch: its header and its records.
// message is what kmsg's requests and responses have in common here.
type message interface {
	SetVersion(int16)
	AppendTo([]byte) []byte
	UnsafeReadFrom([]byte) error
}

type batch struct {
	header  kmsg.RecordBatch
	records []kmsg.Record
}

func newMessage(name string) message {
	switch name {
	case "ProduceRequest":
		return kmsg.NewPtrProduceRequest()
	case "FetchResponse":
		return kmsg.NewPtrFetchResponse()
	case "MetadataResponse":
		return kmsg.NewPtrMetadataResponse()
	case "OffsetCommitRequest":
		return kmsg.NewPtrOffsetCommitRequest()
	case "JoinGroupResponse":
		return kmsg.NewPtrJoinGroupResponse()
	case "ApiVersionsResponse":
		return kmsg.NewPtrApiVersionsResponse()
	}
	panic("unknown message " + name)
}

// decode reads a row's bytes; strings and byte fields alias the input
// (UnsafeReadFrom), the fastest way kmsg offers.
func decode(r *row) (any, error) {
	if r.message == "RecordBatch" {
		return decodeBatch(r.input)
	}
	m := newMessage(r.message)
	m.SetVersion(r.version)
	if err := m.UnsafeReadFrom(r.input); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeBatch reads one batch and every record in it, checking the CRC-32C
// as franz-go's consumer does.
func decodeBatch(in []byte) (*batch, error) {
	b := &batch{header: kmsg.NewRecordBatch()}
	if err := b.header.UnsafeReadFrom(in); err != nil {
		return nil, err
	}
	if len(in) < 21 || crc32.Checksum(in[21:], castagnoli) != uint32(b.header.CRC) {
		return nil, errors.New("crc mismatch")
	}
	rest := b.header.Records
	b.records = make([]kmsg.Record, b.header.NumRecords)
	for i := range b.records {
		length, n := binary.Varint(rest)
		if n <= 0 || int(length) > len(rest)-n {
			return nil, errors.New("bad record length")
		}
		end := n + int(length)
		b.records[i] = kmsg.NewRecord()
		if err := b.records[i].UnsafeReadFrom(rest[:end]); err != nil {
			return nil, err
		}
		rest = rest[end:]
	}
	return b, nil
}

// encode appends the encoding of v to dst[:0].
func encode(v any, dst []byte) []byte {
	switch m := v.(type) {
	case *batch:
		return encodeBatch(m, dst)
	case message:
		return m.AppendTo(dst[:0])
	}
	panic("unknown value")
}

func encodeBatch(b *batch, dst []byte) []byte {
	h := b.header
	recs := make([]byte, 0, len(h.Records))
	for i := range b.records {
		recs = b.records[i].AppendTo(recs)
	}
	h.Records = recs
	out := h.AppendTo(dst[:0])
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], castagnoli))
	return out
}

func main() {
	if len(os.Args) != 3 || os.Args[1] != "check" {
		fmt.Fprintln(os.Stderr, "usage: check DIR")
		os.Exit(2)
	}
	rows, err := loadRows(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for i := range rows {
		r := &rows[i]
		v, err := decode(r)
		verdict := "ok"
		if err != nil {
			verdict = "DECODE ERROR " + err.Error()
		} else if out := encode(v, nil); !bytes.Equal(out, r.input) {
			at := -1
			for j := 0; j < len(out) && j < len(r.input); j++ {
				if out[j] != r.input[j] {
					at = j
					break
				}
			}
			verdict = fmt.Sprintf("MISMATCH %d bytes vs %d, first difference at %d", len(out), len(r.input), at)
		}
		fmt.Printf("go\t%s\t%s\n", r.name, verdict)
	}
}
