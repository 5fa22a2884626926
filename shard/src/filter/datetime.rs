//! Timestamps for `range` on datetime payloads, in the forms Qdrant accepts: RFC 3339
//! (`2023-02-08T10:49:00Z`, `...+01:00`, fractions to nanoseconds), the same with a space for
//! `T`, without seconds, without a time zone (= UTC), and a bare date (`2023-02-08` =
//! midnight UTC). Own parser: the forms are few and a date crate is not worth a dependency.

/// An instant: seconds since the Unix epoch (UTC) and nanoseconds within the second.
/// Field order makes the derived order chronological.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

const SECS_PER_DAY: i64 = 86_400;
const NANOS_DIGITS_MAX: usize = 9;

impl Timestamp {
    pub fn parse(text: &str) -> Option<Timestamp> {
        let b = text.as_bytes();
        let mut r = Cursor { b, at: 0 };
        let year = r.digits(4)?;
        r.expect(b'-')?;
        let month = r.digits(2)?;
        r.expect(b'-')?;
        let day = r.digits(2)?;
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        let (mut hour, mut minute, mut second, mut nanos) = (0, 0, 0, 0);
        let mut offset_secs = 0;
        if r.at < b.len() {
            if !matches!(r.next()?, b'T' | b't' | b' ') {
                return None;
            }
            hour = r.digits(2)?;
            r.expect(b':')?;
            minute = r.digits(2)?;
            if r.peek() == Some(b':') {
                r.at += 1;
                second = r.digits(2)?;
                if r.peek() == Some(b'.') {
                    r.at += 1;
                    nanos = r.fraction()?;
                }
            }
            // 60 is a leap second (RFC 3339); it lands on the next minute's first second.
            if hour > 23 || minute > 59 || second > 60 {
                return None;
            }
            offset_secs = r.zone()?;
        }
        if r.at != b.len() {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let secs = days * SECS_PER_DAY + hour * 3600 + minute * 60 + second - offset_secs;
        Some(Timestamp { secs, nanos })
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.at += 1;
        Some(c)
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    /// Exactly `n` ASCII digits.
    fn digits(&mut self, n: usize) -> Option<i64> {
        let mut v = 0i64;
        for _ in 0..n {
            let c = self.next()?;
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    }

    /// 1 to 9 fraction digits, as nanoseconds.
    fn fraction(&mut self) -> Option<u32> {
        let start = self.at;
        let mut nanos = 0u32;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            if self.at - start == NANOS_DIGITS_MAX {
                return None;
            }
            nanos = nanos * 10 + u32::from(c - b'0');
            self.at += 1;
        }
        let len = self.at - start;
        (len > 0).then(|| nanos * 10u32.pow((NANOS_DIGITS_MAX - len) as u32))
    }

    /// Optional zone: `Z`, `±HH:MM` or `±HHMM`; none means UTC. Returns the offset in seconds.
    fn zone(&mut self) -> Option<i64> {
        let sign = match self.peek() {
            None => return Some(0),
            Some(b'Z' | b'z') => {
                self.at += 1;
                return Some(0);
            }
            Some(b'+') => 1,
            Some(b'-') => -1,
            Some(_) => return None,
        };
        self.at += 1;
        let hours = self.digits(2)?;
        if self.peek() == Some(b':') {
            self.at += 1;
        }
        let minutes = self.digits(2)?;
        if hours > 23 || minutes > 59 {
            return None;
        }
        Some(sign * (hours * 3600 + minutes * 60))
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn known_instants() {
        assert_eq!(ts("1970-01-01T00:00:00Z"), Timestamp { secs: 0, nanos: 0 });
        assert_eq!(ts("1970-01-01"), Timestamp { secs: 0, nanos: 0 });
        // 2023-02-08T10:49:00Z, checked against `date -u -d ... +%s`.
        assert_eq!(ts("2023-02-08T10:49:00Z").secs, 1_675_853_340);
        assert_eq!(ts("2000-02-29 00:00:00").secs, 951_782_400);
        assert_eq!(ts("1969-12-31T23:59:59Z").secs, -1);
        assert_eq!(ts("2023-02-08T10:49:00.5Z").nanos, 500_000_000);
        assert_eq!(ts("2023-02-08T10:49:00.123456789Z").nanos, 123_456_789);
    }

    #[test]
    fn zones_and_forms_agree() {
        let utc = ts("2023-02-08T10:49:00Z");
        for s in [
            "2023-02-08T11:49:00+01:00",
            "2023-02-08T11:49:00+0100",
            "2023-02-08T09:49:00-01:00",
            "2023-02-08 10:49:00",
            "2023-02-08T10:49:00",
            "2023-02-08 10:49",
            "2023-02-08t10:49:00z",
        ] {
            assert_eq!(ts(s), utc, "{s}");
        }
        assert_eq!(ts("2023-02-08T23:59:60Z"), ts("2023-02-09T00:00:00Z"));
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "2023",
            "2023-2-08",
            "2023-02-30",
            "2023-13-01",
            "2023-00-10",
            "2023-02-29",
            "2023-02-08T",
            "2023-02-08T24:00:00Z",
            "2023-02-08T10:60:00Z",
            "2023-02-08T10:49:00.Z",
            "2023-02-08T10:49:00.1234567891Z",
            "2023-02-08T10:49:00+25:00",
            "2023-02-08T10:49:00 UTC",
            "2023-02-08X10:49:00",
            "１２３４-02-08",
        ] {
            assert_eq!(Timestamp::parse(s), None, "{s}");
        }
    }
}
