package main

import (
	"os"
	"testing"
)

func benchRows(b *testing.B) []row {
	rows, err := loadRows(os.Getenv("KWIRE_COMPARE_DATA"))
	if err != nil {
		b.Fatal(err)
	}
	return rows
}

func BenchmarkDecode(b *testing.B) {
	for _, r := range benchRows(b) {
		r := r
		b.Run(r.name, func(b *testing.B) {
			b.SetBytes(int64(len(r.input)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := decode(&r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, r := range benchRows(b) {
		r := r
		v, err := decode(&r)
		if err != nil {
			b.Fatal(err)
		}
		dst := make([]byte, 0, len(r.input)+4096)
		b.Run(r.name, func(b *testing.B) {
			b.SetBytes(int64(len(r.input)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				dst = encode(v, dst)
			}
		})
	}
}
