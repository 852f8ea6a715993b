//! Lua 5.4 patterns: character classes, sets, `%b`, `%f`, anchors, captures (position
//! captures too), back-references and the four quantifiers.
//!
//! A backtracking matcher over bytes. It recurses where the Lua reference does (captures,
//! `?`, and each try of `*`, `+`, `-`) and no deeper than [`MAX_DEPTH`], so hostile patterns
//! end in "pattern too complex" instead of exhausting the native stack. Every step is
//! counted against a budget, so the caller can bound the work of one match (backtracking
//! can take exponential time within that depth).

use alloc::format;
use alloc::string::String;

/// Most captures a pattern may have (`LUA_MAXCAPTURES`).
pub const MAX_CAPTURES: usize = 32;
/// Deepest nesting of the matcher (lua5.4's `MAXCCALLS` for patterns).
const MAX_DEPTH: usize = 200;
/// The characters that make a pattern more than plain text.
const SPECIALS: &[u8] = b"^$*+?.([%-";

/// Why a match failed to complete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MatchError {
    /// A malformed pattern or a bad capture, worded as lua5.4 words it.
    Pattern(String),
    /// The step budget ran out.
    OutOfSteps,
}

impl MatchError {
    fn new(msg: &str) -> Self {
        MatchError::Pattern(String::from(msg))
    }
}

type Res<T> = Result<T, MatchError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CapLen {
    Unfinished,
    Position,
    Len(usize),
}

/// One capture's value: a byte range of the subject, or a 1-based position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capture {
    Range(usize, usize),
    Position(usize),
}

/// Whether `pat` has no special characters (then `find` searches it as plain text).
pub fn is_plain(pat: &[u8]) -> bool {
    !pat.iter().any(|c| SPECIALS.contains(c))
}

/// Whether `c` is in class `class` (`a`, `d`, `s`... or their negations in upper case; any
/// other byte stands for itself).
fn class_matches(c: u8, class: u8) -> bool {
    let yes = match class.to_ascii_lowercase() {
        b'a' => c.is_ascii_alphabetic(),
        b'c' => c.is_ascii_control(),
        b'd' => c.is_ascii_digit(),
        b'g' => c.is_ascii_graphic(),
        b'l' => c.is_ascii_lowercase(),
        b'p' => c.is_ascii_punctuation(),
        b's' => matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c),
        b'u' => c.is_ascii_uppercase(),
        b'w' => c.is_ascii_alphanumeric(),
        b'x' => c.is_ascii_hexdigit(),
        // Deprecated in 5.2, still accepted by lua5.4.
        b'z' => c == 0,
        _ => return class == c,
    };
    if class.is_ascii_uppercase() {
        !yes
    } else {
        yes
    }
}

/// Matching state for one subject and pattern.
pub struct Matcher<'a> {
    src: &'a [u8],
    pat: &'a [u8],
    level: usize,
    caps: [(usize, CapLen); MAX_CAPTURES],
    depth: usize,
    steps_left: u64,
}

impl<'a> Matcher<'a> {
    /// A matcher that may take `steps` steps in all (one per pattern item tried).
    pub fn new(src: &'a [u8], pat: &'a [u8], steps: u64) -> Self {
        Matcher {
            src,
            pat,
            level: 0,
            caps: [(0, CapLen::Unfinished); MAX_CAPTURES],
            depth: 0,
            steps_left: steps,
        }
    }

    /// Matches the pattern from byte `p` on against the subject at `s`; the end of the match.
    pub fn match_at(&mut self, s: usize, p: usize) -> Res<Option<usize>> {
        self.level = 0;
        self.depth = 0;
        self.do_match(s, p)
    }

    /// Captures made by the last successful match.
    pub fn level(&self) -> usize {
        self.level
    }

    /// Capture `i` of the match `s..e`; without captures, capture 0 is the whole match.
    pub fn capture(&self, i: usize, s: usize, e: usize) -> Res<Capture> {
        if i >= self.level {
            if i != 0 {
                return Err(MatchError::Pattern(format!(
                    "invalid capture index %{}",
                    i + 1
                )));
            }
            return Ok(Capture::Range(s, e));
        }
        let (start, len) = self.caps[i];
        match len {
            CapLen::Position => Ok(Capture::Position(start + 1)),
            CapLen::Len(l) => Ok(Capture::Range(start, start + l)),
            CapLen::Unfinished => Err(MatchError::new("unfinished capture")),
        }
    }

    /// How many values a match yields: its captures, or the whole match if it has none.
    pub fn capture_count(&self) -> usize {
        self.level.max(1)
    }

    fn step(&mut self) -> Res<()> {
        if self.steps_left == 0 {
            return Err(MatchError::OutOfSteps);
        }
        self.steps_left -= 1;
        Ok(())
    }

    /// The end of the single-character class at `p`.
    fn class_end(&self, mut p: usize) -> Res<usize> {
        let c = self.pat[p];
        p += 1;
        if c == b'%' {
            if p >= self.pat.len() {
                return Err(MatchError::new("malformed pattern (ends with '%')"));
            }
            return Ok(p + 1);
        }
        if c == b'[' {
            if self.pat.get(p) == Some(&b'^') {
                p += 1;
            }
            // The first character of a set is never its closing bracket.
            loop {
                if p >= self.pat.len() {
                    return Err(MatchError::new("malformed pattern (missing ']')"));
                }
                let c = self.pat[p];
                p += 1;
                if c == b'%' && p < self.pat.len() {
                    p += 1;
                }
                if self.pat.get(p) == Some(&b']') {
                    return Ok(p + 1);
                }
            }
        }
        Ok(p)
    }

    /// Whether `c` is in the set `pat[p..=close]` (`pat[p]` is `[`, `pat[close]` is `]`).
    fn in_set(&self, c: u8, mut p: usize, close: usize) -> bool {
        let mut yes = true;
        p += 1;
        if self.pat[p] == b'^' {
            yes = false;
            p += 1;
        }
        while p < close {
            if self.pat[p] == b'%' {
                p += 1;
                if class_matches(c, self.pat[p]) {
                    return yes;
                }
                p += 1;
            } else if p + 2 < close && self.pat[p + 1] == b'-' {
                if self.pat[p] <= c && c <= self.pat[p + 2] {
                    return yes;
                }
                p += 3;
            } else {
                if self.pat[p] == c {
                    return yes;
                }
                p += 1;
            }
        }
        !yes
    }

    /// Whether the subject byte at `s` matches the class `pat[p..ep]`.
    fn single(&self, s: usize, p: usize, ep: usize) -> bool {
        let Some(&c) = self.src.get(s) else {
            return false;
        };
        match self.pat[p] {
            b'.' => true,
            b'%' => class_matches(c, self.pat[p + 1]),
            b'[' => self.in_set(c, p, ep - 1),
            pc => pc == c,
        }
    }

    fn do_match(&mut self, s: usize, p: usize) -> Res<Option<usize>> {
        if self.depth >= MAX_DEPTH {
            return Err(MatchError::new("pattern too complex"));
        }
        self.depth += 1;
        let r = self.match_here(s, p);
        self.depth -= 1;
        r
    }

    fn match_here(&mut self, mut s: usize, mut p: usize) -> Res<Option<usize>> {
        loop {
            self.step()?;
            if p >= self.pat.len() {
                return Ok(Some(s));
            }
            match self.pat[p] {
                b'(' => {
                    return if self.pat.get(p + 1) == Some(&b')') {
                        self.start_capture(s, p + 2, CapLen::Position)
                    } else {
                        self.start_capture(s, p + 1, CapLen::Unfinished)
                    };
                }
                b')' => return self.end_capture(s, p + 1),
                b'$' if p + 1 == self.pat.len() => {
                    return Ok((s == self.src.len()).then_some(s));
                }
                b'%' if self.pat.get(p + 1) == Some(&b'b') => match self.match_balance(s, p + 2)? {
                    Some(e) => {
                        s = e;
                        p += 4;
                        continue;
                    }
                    None => return Ok(None),
                },
                b'%' if self.pat.get(p + 1) == Some(&b'f') => {
                    p += 2;
                    if self.pat.get(p) != Some(&b'[') {
                        return Err(MatchError::new("missing '[' after '%f' in pattern"));
                    }
                    let ep = self.class_end(p)?;
                    let prev = if s == 0 { 0 } else { self.src[s - 1] };
                    let cur = self.src.get(s).copied().unwrap_or(0);
                    if !self.in_set(prev, p, ep - 1) && self.in_set(cur, p, ep - 1) {
                        p = ep;
                        continue;
                    }
                    return Ok(None);
                }
                b'%' if self.pat.get(p + 1).is_some_and(u8::is_ascii_digit) => {
                    match self.match_back_reference(s, self.pat[p + 1])? {
                        Some(e) => {
                            s = e;
                            p += 2;
                            continue;
                        }
                        None => return Ok(None),
                    }
                }
                _ => {}
            }
            let ep = self.class_end(p)?;
            let quantifier = self.pat.get(ep).copied();
            if !self.single(s, p, ep) {
                if matches!(quantifier, Some(b'*' | b'?' | b'-')) {
                    // Zero repetitions are allowed: go on after the item.
                    p = ep + 1;
                    continue;
                }
                return Ok(None);
            }
            match quantifier {
                Some(b'?') => {
                    if let Some(e) = self.do_match(s + 1, ep + 1)? {
                        return Ok(Some(e));
                    }
                    p = ep + 1;
                }
                Some(b'+') => return self.max_expand(s + 1, p, ep),
                Some(b'*') => return self.max_expand(s, p, ep),
                Some(b'-') => return self.min_expand(s, p, ep),
                _ => {
                    s += 1;
                    p = ep;
                }
            }
        }
    }

    /// As many repetitions as match, then fewer until the rest of the pattern matches.
    fn max_expand(&mut self, s: usize, p: usize, ep: usize) -> Res<Option<usize>> {
        let mut i = 0;
        while self.single(s + i, p, ep) {
            self.step()?;
            i += 1;
        }
        loop {
            if let Some(e) = self.do_match(s + i, ep + 1)? {
                return Ok(Some(e));
            }
            if i == 0 {
                return Ok(None);
            }
            i -= 1;
        }
    }

    /// As few repetitions as let the rest of the pattern match.
    fn min_expand(&mut self, mut s: usize, p: usize, ep: usize) -> Res<Option<usize>> {
        loop {
            if let Some(e) = self.do_match(s, ep + 1)? {
                return Ok(Some(e));
            }
            if !self.single(s, p, ep) {
                return Ok(None);
            }
            s += 1;
        }
    }

    fn start_capture(&mut self, s: usize, p: usize, what: CapLen) -> Res<Option<usize>> {
        if self.level >= MAX_CAPTURES {
            return Err(MatchError::new("too many captures"));
        }
        self.caps[self.level] = (s, what);
        self.level += 1;
        let r = self.do_match(s, p)?;
        if r.is_none() {
            self.level -= 1;
        }
        Ok(r)
    }

    fn end_capture(&mut self, s: usize, p: usize) -> Res<Option<usize>> {
        let l = (0..self.level)
            .rev()
            .find(|&l| self.caps[l].1 == CapLen::Unfinished)
            .ok_or_else(|| MatchError::new("invalid pattern capture"))?;
        self.caps[l].1 = CapLen::Len(s - self.caps[l].0);
        let r = self.do_match(s, p)?;
        if r.is_none() {
            self.caps[l].1 = CapLen::Unfinished;
        }
        Ok(r)
    }

    /// `%bxy` at `s`: the end of the balanced run, if there is one.
    fn match_balance(&mut self, s: usize, p: usize) -> Res<Option<usize>> {
        if p + 1 >= self.pat.len() {
            return Err(MatchError::new(
                "malformed pattern (missing arguments to '%b')",
            ));
        }
        let (open, close) = (self.pat[p], self.pat[p + 1]);
        if self.src.get(s) != Some(&open) {
            return Ok(None);
        }
        let mut depth = 1usize;
        for i in s + 1..self.src.len() {
            self.step()?;
            let c = self.src[i];
            if c == close {
                depth -= 1;
                if depth == 0 {
                    return Ok(Some(i + 1));
                }
            } else if c == open {
                depth += 1;
            }
        }
        Ok(None)
    }

    /// `%1`..`%9`: the text of an earlier capture again.
    fn match_back_reference(&mut self, s: usize, digit: u8) -> Res<Option<usize>> {
        let l = (digit as usize).wrapping_sub(b'1' as usize);
        if l >= self.level || self.caps[l].1 == CapLen::Unfinished {
            return Err(MatchError::Pattern(format!(
                "invalid capture index %{}",
                l.wrapping_add(1) as isize
            )));
        }
        // A position capture has no text: it never matches again.
        let CapLen::Len(len) = self.caps[l].1 else {
            return Ok(None);
        };
        let start = self.caps[l].0;
        let rest = &self.src[s..];
        if rest.len() >= len && self.src[start..start + len] == rest[..len] {
            self.steps_left = self.steps_left.saturating_sub(len as u64);
            Ok(Some(s + len))
        } else {
            Ok(None)
        }
    }
}

/// The first match at or after byte `init`, as `find` and `match` search (honouring a
/// leading `^`): its bounds, with the captures left in `m`.
pub fn find(m: &mut Matcher<'_>, init: usize) -> Res<Option<(usize, usize)>> {
    let anchor = m.pat.first() == Some(&b'^');
    let p = usize::from(anchor);
    let mut s = init;
    loop {
        if let Some(e) = m.match_at(s, p)? {
            return Ok(Some((s, e)));
        }
        s += 1;
        if anchor || s > m.src.len() {
            return Ok(None);
        }
    }
}

/// Plain substring search (`find` with `plain` or a pattern without specials).
pub fn find_plain(src: &[u8], needle: &[u8], init: usize) -> Option<usize> {
    if needle.is_empty() {
        return Some(init);
    }
    let hay = &src[init..];
    if needle.len() > hay.len() {
        return None;
    }
    let first = needle[0];
    let last_start = hay.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        match hay[i..=last_start].iter().position(|&c| c == first) {
            None => return None,
            Some(off) => {
                let at = i + off;
                if &hay[at..at + needle.len()] == needle {
                    return Some(init + at);
                }
                i = at + 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use alloc::vec::Vec;

    fn captures(src: &str, pat: &str) -> Option<Vec<String>> {
        let mut m = Matcher::new(src.as_bytes(), pat.as_bytes(), u64::MAX);
        let (s, e) = find(&mut m, 0).unwrap()?;
        let all = (0..m.capture_count())
            .map(|i| match m.capture(i, s, e).unwrap() {
                Capture::Range(a, b) => src[a..b].to_string(),
                Capture::Position(p) => p.to_string(),
            })
            .collect();
        Some(all)
    }

    fn first(src: &str, pat: &str) -> Option<String> {
        captures(src, pat).map(|c| c[0].clone())
    }

    fn error(src: &str, pat: &str) -> String {
        let mut m = Matcher::new(src.as_bytes(), pat.as_bytes(), u64::MAX);
        match find(&mut m, 0) {
            Err(MatchError::Pattern(msg)) => msg,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn items_and_quantifiers() {
        assert_eq!(first("hello world", "o w"), Some("o w".into()));
        assert_eq!(first("hello", "l+"), Some("ll".into()));
        assert_eq!(first("hello", "l*"), Some("".into()));
        assert_eq!(first("hello", "hel-o"), Some("hello".into()));
        assert_eq!(first("hello", "x?h"), Some("h".into()));
        assert_eq!(first("aaa", "^a-$"), Some("aaa".into()));
        assert_eq!(first("abc", "^b"), None);
        assert_eq!(first("abc", "c$"), Some("c".into()));
        assert_eq!(first("a$b", "$b"), Some("$b".into()));
        assert_eq!(first("  x", "%S"), Some("x".into()));
        assert_eq!(first("x1y", "%d"), Some("1".into()));
        assert_eq!(first("a.b", "%."), Some(".".into()));
    }

    #[test]
    fn sets() {
        assert_eq!(first("x]y", "[]]"), Some("]".into()));
        assert_eq!(first("abc-", "[a-]+"), Some("a".into()));
        assert_eq!(first("c-", "[a-]+"), Some("-".into()));
        assert_eq!(first("hello", "[^hel]"), Some("o".into()));
        assert_eq!(first("a1_", "[%d_]+"), Some("1_".into()));
        assert_eq!(first("q", "[a-z]"), Some("q".into()));
    }

    #[test]
    fn captures_balance_frontier() {
        assert_eq!(
            captures("key = value", "(%w+)%s*=%s*(%w+)"),
            Some(vec!["key".into(), "value".into()])
        );
        assert_eq!(first("f(a(b)c)d", "%b()"), Some("(a(b)c)".into()));
        assert_eq!(first("THE (quick) fox", "%f[%a]%a+"), Some("THE".into()));
        assert_eq!(first("abc", "()b"), Some("2".into()));
        assert_eq!(first("abab", "(ab)%1"), Some("ab".into()));
        assert_eq!(first("aa", "()%1"), None);
    }

    #[test]
    fn errors_are_worded_as_lua() {
        assert_eq!(error("abc", "[a"), "malformed pattern (missing ']')");
        assert_eq!(error("abc", "%"), "malformed pattern (ends with '%')");
        assert_eq!(
            error("abc", "%b"),
            "malformed pattern (missing arguments to '%b')"
        );
        assert_eq!(error("abc", "%f"), "missing '[' after '%f' in pattern");
        assert_eq!(error("abc", "a)"), "invalid pattern capture");
        assert_eq!(error("abc", "(a)%2"), "invalid capture index %2");
        assert_eq!(error("abc", "%0"), "invalid capture index %0");
        assert_eq!(error("abc", "(a%1)"), "invalid capture index %1");
        assert_eq!(error("abc", &"(".repeat(40)), "too many captures");
    }

    #[test]
    fn deep_patterns_are_too_complex_not_a_crash() {
        let src = "a".repeat(300);
        let pat = "a?".repeat(300) + &"a".repeat(300);
        assert_eq!(error(&src, &pat), "pattern too complex");
        // lua5.4 finds this one: the optional items never nest deeper than two.
        assert_eq!(first("a", &"a?".repeat(300)), Some("a".into()));
    }

    #[test]
    fn the_step_budget_bounds_backtracking() {
        let src = "a".repeat(26);
        let pat = "a?".repeat(26) + &"a".repeat(26);
        let mut m = Matcher::new(src.as_bytes(), pat.as_bytes(), 100_000);
        assert_eq!(find(&mut m, 0), Err(MatchError::OutOfSteps));
    }

    #[test]
    fn plain_search() {
        assert_eq!(find_plain(b"a()b", b"()", 0), Some(1));
        assert_eq!(find_plain(b"abc", b"", 3), Some(3));
        assert_eq!(find_plain(b"abcabc", b"bc", 2), Some(4));
        assert_eq!(find_plain(b"ab", b"abc", 0), None);
        assert!(is_plain(b"a)"));
        assert!(!is_plain(b"a."));
    }
}
