// Host-side helpers for index spaces: merging dimensions that are contiguous in every operand,
// so kernels loop over as few, as long rows as possible.
#pragma once

#include "../kernels/params.h"

namespace bp {

inline i64 numel(const Space& s) {
  i64 n = 1;
  for (int d = 0; d < s.nd; d++) n *= s.shape[d];
  return n;
}

/**
 * Drops size-1 dims and merges dim d into d+1 where every operand's stride satisfies
 * s[d] == s[d+1]·shape[d+1] (`operands` of s0, s1, s2 are looked at).
 */
inline void collapse(Space& s, int operands) {
  i64* st[3] = {s.s0, s.s1, s.s2};
  Space out;
  out.nd = 0;
  for (int d = 0; d < s.nd; d++) {
    if (s.shape[d] == 1) continue;
    if (out.nd > 0) {
      const int last = out.nd - 1;
      bool mergeable = true;
      i64* ost[3] = {out.s0, out.s1, out.s2};
      for (int o = 0; o < operands; o++) mergeable = mergeable && ost[o][last] == st[o][d] * s.shape[d];
      if (mergeable) {
        out.shape[last] *= s.shape[d];
        for (int o = 0; o < operands; o++) ost[o][last] = st[o][d];
        continue;
      }
    }
    out.shape[out.nd] = s.shape[d];
    out.s0[out.nd] = s.s0[d];
    out.s1[out.nd] = s.s1[d];
    out.s2[out.nd] = s.s2[d];
    out.nd++;
  }
  if (out.nd == 0) {
    out.nd = 1;
    out.shape[0] = 1;
    out.s0[0] = out.s1[0] = out.s2[0] = 0;
  }
  s = out;
}

/** Offset of linear index `i` over the first `dims` dims of `s`, for strides `st`. */
inline i64 offsetPrefix(i64 i, const Space& s, int dims, const i64* st) {
  i64 off = 0;
  for (int d = dims - 1; d >= 0; d--) {
    off += (i % s.shape[d]) * st[d];
    i /= s.shape[d];
  }
  return off;
}

/** Advances a multi-index over dims [0, nd) (the last fastest) and the offsets that follow it. */
struct Cursor {
  int nd;
  i64 idx[kMaxDims] = {};
  i64 off[3] = {0, 0, 0};

  /** Positions the cursor at linear index `i` of the first `nd` dims of `s`. */
  Cursor(const Space& s, int dims, i64 i) : nd(dims) {
    for (int d = nd - 1; d >= 0; d--) {
      idx[d] = i % s.shape[d];
      i /= s.shape[d];
      off[0] += idx[d] * s.s0[d];
      off[1] += idx[d] * s.s1[d];
      off[2] += idx[d] * s.s2[d];
    }
  }

  void next(const Space& s) {
    for (int d = nd - 1; d >= 0; d--) {
      if (++idx[d] < s.shape[d]) {
        off[0] += s.s0[d];
        off[1] += s.s1[d];
        off[2] += s.s2[d];
        return;
      }
      idx[d] = 0;
      off[0] -= (s.shape[d] - 1) * s.s0[d];
      off[1] -= (s.shape[d] - 1) * s.s1[d];
      off[2] -= (s.shape[d] - 1) * s.s2[d];
    }
  }
};

}  // namespace bp
