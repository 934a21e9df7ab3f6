//! TCP sequence numbers with wrap-around arithmetic (RFC 9293 section 3.4), after
//! smoltcp's `wire::tcp::SeqNumber`.
//!
//! Contract: a [`SeqNumber`] is a point on a circle of 2^32. Adding moves along the circle
//! modulo 2^32; subtracting two of them gives the *shortest signed distance*, in
//! `[-2^31, 2^31)`; ordering is by the sign of that distance. This is only meaningful
//! for numbers less than 2^31 apart: a sequence number that is more than 2^31 behind
//! another looks ahead of it. Two numbers exactly 2^31 apart are neither before nor after
//! each other ([`PartialOrd::partial_cmp`] returns `None`), which keeps the order
//! antisymmetric. The order is not transitive around the whole circle, so there is no `Ord`.
//! Nothing here panics on any input.

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, Sub};

/// A 32-bit TCP sequence number. Arithmetic wraps; comparison is by signed distance and
/// is only meaningful within 2^31 (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// The signed distance from `other` to `self`: how far `self` is ahead of `other`
    /// (negative if behind), in `[-2^31, 2^31)`. Same as `self - other`.
    pub fn distance_from(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Moves forward by `rhs` bytes, modulo 2^32 (an `rhs` of 2^32 or more wraps fully).
impl Add<usize> for SeqNumber {
    type Output = SeqNumber;
    fn add(self, rhs: usize) -> SeqNumber {
        // Truncation is the point: sequence space is modulo 2^32.
        SeqNumber(self.0.wrapping_add(rhs as u32))
    }
}

/// Moves backward by `rhs` bytes, modulo 2^32.
impl Sub<usize> for SeqNumber {
    type Output = SeqNumber;
    fn sub(self, rhs: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(rhs as u32))
    }
}

/// Signed distance `self - rhs` in `[-2^31, 2^31)`, widened to `i64` so callers can add
/// it to `u64` stream offsets without overflow.
impl Sub<SeqNumber> for SeqNumber {
    type Output = i64;
    fn sub(self, rhs: SeqNumber) -> i64 {
        i64::from(self.distance_from(rhs))
    }
}

/// Ordered by signed distance; `None` for numbers exactly 2^31 apart.
impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &SeqNumber) -> Option<Ordering> {
        match self.distance_from(*other) {
            i32::MIN => None,
            d => Some(d.cmp(&0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_past_u32_max_wraps_to_zero() {
        assert_eq!(SeqNumber(u32::MAX) + 1, SeqNumber(0));
        assert_eq!(SeqNumber(u32::MAX - 9) + 20, SeqNumber(10));
        assert_eq!(SeqNumber(5) + 0, SeqNumber(5));
    }

    #[test]
    fn subtracting_below_zero_wraps_to_u32_max() {
        assert_eq!(SeqNumber(0) - 1usize, SeqNumber(u32::MAX));
        assert_eq!(SeqNumber(10) - 20usize, SeqNumber(u32::MAX - 9));
    }

    #[test]
    fn distance_across_the_wrap_is_small_and_signed() {
        let before = SeqNumber(u32::MAX - 4);
        let after = SeqNumber(5);
        assert_eq!(after - before, 10);
        assert_eq!(before - after, -10);
        assert_eq!(after - after, 0);
    }

    #[test]
    fn distance_is_in_half_open_range_at_the_antipode() {
        let a = SeqNumber(0);
        let b = SeqNumber(1 << 31);
        assert_eq!(a - b, -(1i64 << 31));
        assert_eq!(b - a, -(1i64 << 31));
        assert_eq!(SeqNumber((1 << 31) - 1) - a, (1i64 << 31) - 1);
    }

    #[test]
    fn order_follows_signed_distance_across_the_wrap() {
        let before = SeqNumber(u32::MAX);
        let after = SeqNumber(0);
        assert!(before < after);
        assert!(after > before);
        assert!(before <= before);
        assert_eq!(before.partial_cmp(&before), Some(Ordering::Equal));
    }

    #[test]
    fn numbers_exactly_half_the_circle_apart_are_unordered() {
        let a = SeqNumber(7);
        let b = a + (1usize << 31);
        assert_eq!(a.partial_cmp(&b), None);
        assert_eq!(b.partial_cmp(&a), None);
        assert_eq!([a < b, b < a, a > b, b > a, a == b], [false; 5]);
    }

    #[test]
    fn more_than_half_the_circle_ahead_looks_behind() {
        let a = SeqNumber(0);
        let far = a + ((1usize << 31) + 1);
        assert!(
            far < a,
            "documented limitation: only meaningful within 2^31"
        );
    }

    #[test]
    fn adding_a_full_circle_is_identity() {
        // On 64-bit targets usize holds 2^32; the sum wraps back to where it started.
        if let Ok(circle) = usize::try_from(1u64 << 32) {
            assert_eq!(SeqNumber(123) + circle, SeqNumber(123));
        }
    }
}
