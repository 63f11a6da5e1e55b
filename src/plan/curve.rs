//! Reading a measured curve between its measured points: piecewise linear in log2 of x, held
//! beyond the ends (the grouped-GEMM tables, prefill attention's rate by prompt length).

/// Piecewise linear in log2(x) through `(xs, ys)` (xs ascending), constant beyond the ends: how
/// the estimate reads a measured curve between its measured points.
pub(crate) fn interpolate(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    if xs.is_empty() {
        return 1.0;
    }
    Segment::locate(xs, x).read(ys)
}

/// Where an `x` falls among ascending points, in log2: found once, read off every curve that
/// shares those points (the grouped-GEMM tables' rows share their token grid).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment {
    /// The point at or above `x` (0 below the first).
    upper: usize,
    /// How far from the point below to `upper`, in log2 (1 beyond the last).
    fraction: f64,
}

impl Segment {
    pub(crate) fn locate(xs: &[f64], x: f64) -> Segment {
        let last = xs.len().saturating_sub(1);
        if xs.is_empty() || x <= xs[0] {
            return Segment {
                upper: 0,
                fraction: 0.0,
            };
        }
        if x >= xs[last] {
            return Segment {
                upper: last,
                fraction: 1.0,
            };
        }
        let upper = xs.iter().position(|&v| v >= x).unwrap_or(last).max(1);
        let (x0, x1) = (xs[upper - 1].log2(), xs[upper].log2());
        Segment {
            upper,
            fraction: (x.log2() - x0) / (x1 - x0),
        }
    }

    pub(crate) fn read(self, ys: &[f64]) -> f64 {
        if self.upper == 0 {
            return ys[0];
        }
        let (y0, y1) = (ys[self.upper - 1], ys[self.upper]);
        y0 + self.fraction * (y1 - y0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Log-linear between the points, held beyond them: halfway between 16 and 64 in log2 is
    /// 32, so it takes the mean of their values.
    #[test]
    fn interpolates_in_log2_and_holds_the_edges() {
        let xs = [16.0, 64.0, 256.0];
        let ys = [0.2, 0.6, 0.8];
        let rows = [
            (8.0, 0.2),
            (16.0, 0.2),
            (32.0, 0.4),
            (64.0, 0.6),
            (128.0, 0.7),
            (256.0, 0.8),
            (4096.0, 0.8),
        ];
        for (x, y) in rows {
            assert!((interpolate(&xs, &ys, x) - y).abs() < 1e-12, "{x}");
        }
    }
}
