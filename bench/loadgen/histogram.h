/* The load generators' latency histogram buckets (µs): exact below 2048, then 1024 sub-buckets
 * per power of two (< 0.1% error), up to 2^31 µs. Shared by loadgen.c and httpload.c, so both
 * report figures of the same precision to bench/lib (which turns them into HdrHistograms). */
#ifndef TICKPLANT_BENCH_HISTOGRAM_H
#define TICKPLANT_BENCH_HISTOGRAM_H
#include <stdint.h>

#define SUB 1024
#define HBUCKETS (2048 + 21 * SUB)

static int bucket_of(int64_t v) {
  if (v < 0) v = 0;
  if (v < 2048) return (int)v;
  int msb = 63 - __builtin_clzll((uint64_t)v);
  int shift = msb - 10;
  int idx = 2048 + (shift - 1) * SUB + (int)((v >> shift) - SUB);
  return idx < HBUCKETS ? idx : HBUCKETS - 1;
}

static int64_t value_of(int idx) {
  if (idx < 2048) return idx;
  int s = (idx - 2048) / SUB + 1;
  int64_t top = (idx - 2048) % SUB + SUB;
  return (top << s) + ((1LL << s) >> 1); /* the bucket's middle */
}

#endif
