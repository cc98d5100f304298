//! Exact decimal-to-`f64` conversion for the JSON reader.
//!
//! Why not `str::parse::<f64>`: core's parser carries ~10 KB of power-of-five
//! tables and the Eisel-Lemire and big-decimal paths, about 15 KB gzip of the
//! wasm build. Numbers in tokens and options are short (timestamps, seconds),
//! so a fast path covers them exactly and a small big-integer division covers
//! the rest, still rounding correctly (half to even), so results equal
//! `str::parse` on every input (property-tested natively).

/// `±digits × 10^exp10` rounded to the nearest `f64`. `digits` are ASCII
/// decimal digits (any count, leading zeros allowed). Gives `±inf` when the
/// value is beyond `f64::MAX` and `±0.0` below the smallest subnormal.
pub(crate) fn to_f64(negative: bool, digits: &[u8], exp10: i64) -> f64 {
    let magnitude = unsigned(digits, exp10);
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// Powers of ten that are exact in an `f64`.
const EXACT_POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

fn unsigned(digits: &[u8], exp10: i64) -> f64 {
    let first = digits.iter().position(|&d| d != b'0');
    let Some(first) = first else { return 0.0 };
    let last = digits.iter().rposition(|&d| d != b'0').unwrap_or(first);
    // Trailing zeros move into the exponent.
    let exp10 = exp10.saturating_add((digits.len() - 1 - last) as i64);
    let digits = digits.get(first..=last).unwrap_or_default();
    let count = digits.len() as i64;
    // value = 0.d1d2… × 10^(count + exp10): outside these bounds it is
    // certainly infinite or certainly below half the smallest subnormal.
    if count.saturating_add(exp10) > 310 {
        return f64::INFINITY;
    }
    if count.saturating_add(exp10) < -325 {
        return 0.0;
    }
    // Clinger's fast path: an integer below 2^53 and an exact power of ten
    // give a correctly rounded product or quotient.
    if count <= 15 && (-22..=22).contains(&exp10) {
        let mantissa = digits
            .iter()
            .fold(0u64, |m, &d| m * 10 + u64::from(d - b'0'));
        let scale = EXACT_POW10
            .get(exp10.unsigned_abs() as usize)
            .copied()
            .unwrap_or(1.0);
        let m = mantissa as f64;
        return if exp10 < 0 { m / scale } else { m * scale };
    }
    slow(digits, exp10)
}

/// `digits × 10^exp10` by exact big-integer division: scale the ratio into
/// [1, 2), take the mantissa bits one by one, round half to even.
fn slow(digits: &[u8], exp10: i64) -> f64 {
    let mut num = Big::from_digits(digits);
    let mut den = Big::one();
    if exp10 >= 0 {
        num.mul_pow10(exp10 as u32);
    } else {
        den.mul_pow10(exp10.unsigned_abs() as u32);
    }
    // Make num / den ∈ [1, 2) and remember the power of two: value = num/den × 2^e2.
    let mut e2 = num.bits() as i64 - den.bits() as i64;
    if e2 > 0 {
        den.shl(e2 as u32);
    } else {
        num.shl(e2.unsigned_abs() as u32);
    }
    if num.lt(&den) {
        num.shl(1);
        e2 -= 1;
    }
    if e2 > 1023 {
        return f64::INFINITY;
    }
    // Mantissa bits available: 53 for normal numbers, fewer for subnormals.
    let precision = if e2 >= -1022 { 53 } else { e2 + 1075 };
    if precision < 0 {
        return 0.0;
    }
    let mut q: u64 = 0;
    for _ in 0..=precision {
        let bit = !num.lt(&den);
        if bit {
            num.sub(&den);
        }
        q = (q << 1) | u64::from(bit);
        num.shl(1);
    }
    let guard = q & 1 == 1;
    let mut m = q >> 1;
    let sticky = !num.is_zero();
    if guard && (sticky || m & 1 == 1) {
        m += 1;
    }
    if e2 >= -1022 {
        if m == 1 << 53 {
            m >>= 1;
            e2 += 1;
            if e2 > 1023 {
                return f64::INFINITY;
            }
        }
        f64::from_bits((((e2 + 1023) as u64) << 52) | (m & ((1 << 52) - 1)))
    } else {
        // Subnormal (or, after rounding up, the smallest normal): the bits
        // are the mantissa itself.
        f64::from_bits(m)
    }
}

/// An unsigned big integer, 32-bit limbs, least significant first.
struct Big(Vec<u32>);

impl Big {
    fn one() -> Big {
        Big(vec![1])
    }

    fn from_digits(digits: &[u8]) -> Big {
        let mut b = Big(vec![0]);
        for chunk in digits.chunks(9) {
            let mut scale = 1u32;
            let mut value = 0u32;
            for &d in chunk {
                scale *= 10;
                value = value * 10 + u32::from(d - b'0');
            }
            b.mul_add(scale, value);
        }
        b
    }

    /// self = self × m + a.
    fn mul_add(&mut self, m: u32, a: u32) {
        let mut carry = u64::from(a);
        for limb in self.0.iter_mut() {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn mul_pow10(&mut self, mut e: u32) {
        while e >= 9 {
            self.mul_add(1_000_000_000, 0);
            e -= 9;
        }
        if e > 0 {
            self.mul_add(10u32.pow(e), 0);
        }
    }

    fn bits(&self) -> u32 {
        let top = self.0.iter().rposition(|&l| l != 0).unwrap_or(0);
        let limb = self.0.get(top).copied().unwrap_or(0);
        top as u32 * 32 + (32 - limb.leading_zeros())
    }

    fn shl(&mut self, n: u32) {
        let limbs = (n / 32) as usize;
        let bits = n % 32;
        if bits > 0 {
            let mut carry = 0u32;
            for limb in self.0.iter_mut() {
                let next = *limb >> (32 - bits);
                *limb = (*limb << bits) | carry;
                carry = next;
            }
            if carry != 0 {
                self.0.push(carry);
            }
        }
        if limbs > 0 {
            let mut shifted = vec![0; limbs];
            shifted.append(&mut self.0);
            self.0 = shifted;
        }
    }

    fn lt(&self, other: &Big) -> bool {
        let n = self.0.len().max(other.0.len());
        for i in (0..n).rev() {
            let a = self.0.get(i).copied().unwrap_or(0);
            let b = other.0.get(i).copied().unwrap_or(0);
            if a != b {
                return a < b;
            }
        }
        false
    }

    /// self -= other (caller ensures self >= other).
    fn sub(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let v = i64::from(*limb) - i64::from(other.0.get(i).copied().unwrap_or(0)) - borrow;
            *limb = v as u32;
            borrow = i64::from(v < 0);
        }
    }

    fn is_zero(&self) -> bool {
        self.0.iter().all(|&l| l == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(not(target_arch = "wasm32"))]
    use proptest::prelude::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Splits a JSON-style number into sign, digits and exponent like the reader does.
    fn convert(text: &str) -> f64 {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, text),
        };
        let (mantissa, exp) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().unwrap()),
            None => (rest, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
        to_f64(negative, &digits, exp - frac.len() as i64)
    }

    fn same(text: &str) {
        let want: f64 = text.parse().unwrap();
        let got = convert(text);
        assert_eq!(got.to_bits(), want.to_bits(), "{text}: {got:e} != {want:e}");
    }

    #[test]
    fn edge_cases_match_core() {
        for t in [
            "0", "-0", "0.0", "1", "1700000000", "1700000000.5", "0.1", "0.3", "123.456e-7",
            "9007199254740993", "9007199254740992.5", "1e22", "1e23", "4.9e-324", "2.4e-324",
            "2.5e-324", "2.4703282292062328e-324", "2.4703282292062327e-324",
            "2.2250738585072011e-308", "2.2250738585072014e-308", "1.7976931348623157e308",
            "1.7976931348623158e308", "1.7976931348623159e308", "1e308", "1e-400", "1e400",
            "0.000000000000000000000000000001", "100000000000000000000000", "253402300799",
            "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497791",
            "0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000049406564584124654",
        ] {
            same(t);
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest! {
        #[test]
        fn round_trips_every_f64(bits in any::<u64>()) {
            let f = f64::from_bits(bits);
            prop_assume!(f.is_finite());
            same(&format!("{f:e}"));
            same(&format!("{f}"));
        }

        #[test]
        fn random_decimals_match_core(int in "[0-9]{1,30}", frac in "[0-9]{0,30}", exp in -350i64..350) {
            same(&format!("{int}.{frac}e{exp}").replace(".e", "e"));
        }
    }
}
