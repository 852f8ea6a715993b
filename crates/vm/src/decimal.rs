//! Floats in decimal, exactly: every finite double is a whole number times a power of two,
//! so its decimal expansion is finite. We compute all of it with a small big integer and round
//! that once, ties to even, which is what glibc's `printf` (and so lua5.4) prints.
//! This replaces `core::fmt`'s float formatting, which costs the wasm module far more code.

use alloc::vec;
use alloc::vec::Vec;

/// Base of the big integer's limbs: nine decimal digits each.
const LIMB: u64 = 1_000_000_000;

/// The digits of finite `|f|`, rounded: see [`Digits::round`].
pub struct Digits {
    /// ASCII digits, the first non-zero unless the value is zero.
    digits: Vec<u8>,
    /// The power of ten of the first digit.
    exp: i32,
}

impl Digits {
    /// The exact decimal expansion of finite `|f|`.
    pub fn exact(f: f64) -> Self {
        let bits = f.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i32;
        let fraction = bits & ((1 << 52) - 1);
        let (mut mantissa, mut exp2) = if biased == 0 {
            (fraction, -1074)
        } else {
            (fraction | 1 << 52, biased - 1075)
        };
        if mantissa == 0 {
            return Digits {
                digits: vec![b'0'],
                exp: 0,
            };
        }
        let zeros = mantissa.trailing_zeros();
        mantissa >>= zeros;
        exp2 += zeros as i32;
        // |f| = n * 2^exp2 = n * 5^-exp2 * 10^exp2 when exp2 < 0.
        let mut n = vec![(mantissa % LIMB) as u32, (mantissa / LIMB) as u32];
        let exp10 = if exp2 >= 0 {
            multiply_by_power(&mut n, 2, 31, exp2 as u32);
            0
        } else {
            multiply_by_power(&mut n, 5, 13, exp2.unsigned_abs());
            exp2
        };
        let mut digits = Vec::with_capacity(n.len() * 9);
        for (i, limb) in n.iter().rev().enumerate() {
            let mut buf = [0u8; 9];
            let mut v = *limb;
            for d in buf.iter_mut().rev() {
                *d = b'0' + (v % 10) as u8;
                v /= 10;
            }
            if i == 0 {
                let first = buf.iter().position(|&d| d != b'0').unwrap_or(8);
                digits.extend_from_slice(&buf[first..]);
            } else {
                digits.extend_from_slice(&buf);
            }
        }
        let exp = digits.len() as i32 - 1 + exp10;
        Digits { digits, exp }
    }

    /// `|f|` rounded to `n` significant digits (at least one): the digits and the power of
    /// ten of the first, as `%e` needs them.
    pub fn significant(f: f64, n: usize) -> (Vec<u8>, i32) {
        let mut d = Self::exact(f);
        d.round(n.max(1) as i64);
        (d.digits, d.exp)
    }

    /// `|f|` rounded to `decimals` digits after the point, written out as `%f` does.
    pub fn fixed(f: f64, decimals: usize, out: &mut Vec<u8>) {
        let mut d = Self::exact(f);
        d.round(d.exp as i64 + 1 + decimals as i64);
        let digit_at = |power: i32| {
            usize::try_from(d.exp - power)
                .ok()
                .and_then(|i| d.digits.get(i).copied())
                .unwrap_or(b'0')
        };
        for power in (0..=d.exp.max(0)).rev() {
            out.push(digit_at(power));
        }
        if decimals > 0 {
            out.push(b'.');
            out.extend((1..=decimals as i32).map(|k| digit_at(-k)));
        }
    }

    /// Keeps the first `kept` digits (padding with zeros), rounding the rest away to the
    /// nearest, ties to even. `kept <= 0` leaves zero or, rounded up, one unit of the last
    /// place kept (`10^(exp - kept + 1)`), whose first digit is then that place's.
    fn round(&mut self, kept: i64) {
        let len = self.digits.len() as i64;
        if kept >= len {
            self.digits.resize(kept as usize, b'0');
            return;
        }
        let up = if kept < 0 {
            false
        } else {
            let k = kept as usize;
            let rest = &self.digits[k..];
            let tail_nonzero = rest[1..].iter().any(|&d| d != b'0');
            let last_odd = k > 0 && self.digits[k - 1] & 1 == 1;
            rest[0] > b'5' || (rest[0] == b'5' && (tail_nonzero || last_odd))
        };
        let place = self.exp as i64 - kept + 1;
        if kept <= 0 {
            // Nothing of the value survives but, perhaps, one unit of the place kept.
            if up {
                self.digits = vec![b'1'];
                self.exp = place as i32;
            } else {
                self.digits = vec![b'0'];
                self.exp = 0;
            }
            return;
        }
        self.digits.truncate(kept as usize);
        if up {
            match self.digits.iter().rposition(|&d| d != b'9') {
                Some(i) => {
                    self.digits[i] += 1;
                    self.digits[i + 1..].fill(b'0');
                }
                None => {
                    // 99..9 rounds to 100..0: one more digit in front, as many kept.
                    self.digits.fill(b'0');
                    self.digits[0] = b'1';
                    self.exp += 1;
                }
            }
        }
    }
}

/// `n *= base^power`, in steps of `base^step` (which must fit in a `u32`).
fn multiply_by_power(n: &mut Vec<u32>, base: u32, step: u32, mut power: u32) {
    while power > 0 {
        let k = power.min(step);
        power -= k;
        let factor = base.pow(k) as u64;
        let mut carry = 0u64;
        for limb in n.iter_mut() {
            let x = *limb as u64 * factor + carry;
            *limb = (x % LIMB) as u32;
            carry = x / LIMB;
        }
        while carry > 0 {
            n.push((carry % LIMB) as u32);
            carry /= LIMB;
        }
    }
    while n.len() > 1 && n.last() == Some(&0) {
        n.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::String;

    fn fixed(f: f64, decimals: usize) -> String {
        let mut out = Vec::new();
        Digits::fixed(f, decimals, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn significant(f: f64, n: usize) -> (String, i32) {
        let (digits, exp) = Digits::significant(f, n);
        (String::from_utf8(digits).unwrap(), exp)
    }

    #[test]
    fn ties_round_to_even() {
        assert_eq!(fixed(0.5, 0), "0");
        assert_eq!(fixed(1.5, 0), "2");
        assert_eq!(fixed(2.5, 0), "2");
        assert_eq!(fixed(0.125, 2), "0.12");
        assert_eq!(fixed(0.375, 2), "0.38");
        assert_eq!(significant(2.5, 1), ("2".into(), 0));
        assert_eq!(significant(35.0, 1), ("4".into(), 1));
    }

    #[test]
    fn the_exact_value_decides() {
        // 0.0005 is a little above, 9.995 a little below what it reads as.
        assert_eq!(fixed(0.0005, 3), "0.001");
        assert_eq!(fixed(9.995, 2), "9.99");
        assert_eq!(fixed(0.1, 20), "0.10000000000000000555");
        assert_eq!(significant(1e23, 17), ("99999999999999992".into(), 22));
        assert_eq!(significant(0.1 + 0.2, 17), ("30000000000000004".into(), -1));
    }

    #[test]
    fn carries_add_a_digit() {
        assert_eq!(fixed(99.5, 0), "100");
        assert_eq!(fixed(0.96, 1), "1.0");
        assert_eq!(fixed(0.0096, 2), "0.01");
        assert_eq!(significant(9.96, 2), ("10".into(), 1));
    }

    #[test]
    fn zeros_and_extremes() {
        assert_eq!(fixed(0.0, 0), "0");
        assert_eq!(fixed(0.0, 3), "0.000");
        assert_eq!(fixed(0.0004, 3), "0.000");
        assert_eq!(significant(0.0, 3), ("000".into(), 0));
        assert_eq!(fixed(2f64.powi(53) + 2.0, 1), "9007199254740994.0");
        assert_eq!(fixed(1e22, 0), "10000000000000000000000");
        let max = fixed(f64::MAX, 0);
        assert_eq!(max.len(), 309);
        assert!(max.starts_with("17976931348623157081"));
        let tiny = fixed(f64::from_bits(1), 99);
        assert_eq!(tiny, format!("0.{}", "0".repeat(99)));
        assert_eq!(
            significant(f64::from_bits(1), 17),
            ("49406564584124654".into(), -324)
        );
        assert_eq!(
            significant(f64::MIN_POSITIVE, 17),
            ("22250738585072014".into(), -308)
        );
    }
}
