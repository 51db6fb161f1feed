package turn

import "testing"

func BenchmarkChannelData(b *testing.B) {
	buf := make([]byte, 0, 2048)
	data := make([]byte, 1200)
	b.ReportAllocs()
	b.SetBytes(1200)
	for i := 0; i < b.N; i++ {
		m, _ := AppendChannelData(buf[:0], 0x4001, data, false)
		if _, d, _, err := ParseChannelData(m, false); err != nil || len(d) != 1200 {
			b.Fatal(err)
		}
	}
}

func BenchmarkProcessAllocate(b *testing.B) {
	raw := processCases[0].raw(RFC5766)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if ProcessAllocate(raw, RFC5766).Return != MappedSuccess {
			b.Fatal("not a success")
		}
	}
}
