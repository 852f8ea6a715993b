//! Lua 5.4 patterns: character classes, sets, `%b`, `%f`, anchors, captures (including
//! position captures), back-references and the four quantifiers.
//!
//! A backtracking matcher over bytes. Recursion happens only for quantifiers and captures,
//! and is bounded (like Lua's `MAXCCALLS`) so hostile patterns end with "pattern too
//! complex" instead of exhausting the native stack.

/// Most captures a pattern may have (`LUA_MAXCAPTURES`).
const MAX_CAPTURES: usize = 32;
/// Recursion bound for the matcher (`MAXCCALLS`).
const MAX_DEPTH: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq)]
enum CapLen {
    Unfinished,
    Position,
    Len(usize),
}

/// One capture's value: a byte range of the subject, or a 1-based position.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Capture {
    Range(usize, usize),
    Position(usize),
}

/// Matching state for one subject and pattern.
pub(crate) struct Matcher<'a> {
    src: &'a [u8],
    pat: &'a [u8],
    level: usize,
    caps: [(usize, CapLen); MAX_CAPTURES],
    depth: usize,
}

/// Special characters: a pattern without them is matched as plain text by `find`.
pub(crate) fn has_specials(p: &[u8]) -> bool {
    p.iter().any(|b| b"^$*+?.([%-".contains(b))
}

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
        _ => return class == c,
    };
    if class.is_ascii_uppercase() {
        !yes
    } else {
        yes
    }
}

impl<'a> Matcher<'a> {
    pub fn new(src: &'a [u8], pat: &'a [u8]) -> Self {
        Matcher {
            src,
            pat,
            level: 0,
            caps: [(0, CapLen::Unfinished); MAX_CAPTURES],
            depth: 0,
        }
    }

    /// Tries to match the pattern starting at pattern index `p` against subject index `s`.
    pub fn match_at(&mut self, s: usize, p: usize) -> Result<Option<usize>, String> {
        self.level = 0;
        self.depth = 0;
        self.do_match(s, p)
    }

    /// Number of captures the last successful match made.
    pub fn level(&self) -> usize {
        self.level
    }

    /// Capture `i` of a match `s..e`; with no captures, capture 0 is the whole match.
    pub fn capture(&self, i: usize, s: usize, e: usize) -> Result<Capture, String> {
        if i >= self.level {
            if i == 0 {
                Ok(Capture::Range(s, e))
            } else {
                Err(format!("invalid capture index %{}", i + 1))
            }
        } else {
            let (start, len) = self.caps[i];
            match len {
                CapLen::Position => Ok(Capture::Position(start + 1)),
                CapLen::Len(l) => Ok(Capture::Range(start, start + l)),
                CapLen::Unfinished => Err("unfinished capture".into()),
            }
        }
    }

    /// All captures of a match (the whole match if the pattern has none).
    pub fn captures(&self, s: usize, e: usize) -> Result<Vec<Capture>, String> {
        (0..self.level.max(1))
            .map(|i| self.capture(i, s, e))
            .collect()
    }

    fn class_end(&self, mut p: usize) -> Result<usize, String> {
        let c = self.pat[p];
        p += 1;
        if c == b'%' {
            if p >= self.pat.len() {
                return Err("malformed pattern (ends with '%')".into());
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
                    return Err("malformed pattern (missing ']')".into());
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

    /// Whether `c` is in the set `pat[p..=ec]` (`pat[p]` is `[`, `pat[ec]` is `]`).
    fn in_set(&self, c: u8, mut p: usize, ec: usize) -> bool {
        let mut yes = true;
        p += 1;
        if self.pat[p] == b'^' {
            yes = false;
            p += 1;
        }
        while p < ec {
            if self.pat[p] == b'%' {
                p += 1;
                if class_matches(c, self.pat[p]) {
                    return yes;
                }
                p += 1;
            } else if p + 2 < ec && self.pat[p + 1] == b'-' {
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

    fn do_match(&mut self, s: usize, p: usize) -> Result<Option<usize>, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("pattern too complex".into());
        }
        let r = self.do_match_inner(s, p);
        self.depth -= 1;
        r
    }

    fn do_match_inner(&mut self, mut s: usize, mut p: usize) -> Result<Option<usize>, String> {
        loop {
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
                b'%' if self.pat.get(p + 1) == Some(&b'b') => {
                    match self.match_balance(s, p + 2)? {
                        Some(e) => {
                            s = e;
                            p += 4;
                            continue;
                        }
                        None => return Ok(None),
                    }
                }
                b'%' if self.pat.get(p + 1) == Some(&b'f') => {
                    p += 2;
                    if self.pat.get(p) != Some(&b'[') {
                        return Err("missing '[' after '%f' in pattern".into());
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
                    match self.match_capture(s, self.pat[p + 1])? {
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
            let m = self.single(s, p, ep);
            match self.pat.get(ep) {
                Some(b'?') => {
                    if m {
                        if let Some(e) = self.do_match(s + 1, ep + 1)? {
                            return Ok(Some(e));
                        }
                    }
                    p = ep + 1;
                }
                Some(b'+') => {
                    return if m {
                        self.max_expand(s + 1, p, ep)
                    } else {
                        Ok(None)
                    }
                }
                Some(b'*') => return self.max_expand(s, p, ep),
                Some(b'-') => return self.min_expand(s, p, ep),
                _ => {
                    if !m {
                        return Ok(None);
                    }
                    s += 1;
                    p = ep;
                }
            }
        }
    }

    fn max_expand(&mut self, s: usize, p: usize, ep: usize) -> Result<Option<usize>, String> {
        let mut i = 0;
        while self.single(s + i, p, ep) {
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

    fn min_expand(&mut self, mut s: usize, p: usize, ep: usize) -> Result<Option<usize>, String> {
        loop {
            if let Some(e) = self.do_match(s, ep + 1)? {
                return Ok(Some(e));
            }
            if self.single(s, p, ep) {
                s += 1;
            } else {
                return Ok(None);
            }
        }
    }

    fn start_capture(&mut self, s: usize, p: usize, what: CapLen) -> Result<Option<usize>, String> {
        if self.level >= MAX_CAPTURES {
            return Err("too many captures".into());
        }
        self.caps[self.level] = (s, what);
        self.level += 1;
        let r = self.do_match(s, p)?;
        if r.is_none() {
            self.level -= 1;
        }
        Ok(r)
    }

    fn end_capture(&mut self, s: usize, p: usize) -> Result<Option<usize>, String> {
        let l = (0..self.level)
            .rev()
            .find(|&l| self.caps[l].1 == CapLen::Unfinished)
            .ok_or_else(|| "invalid pattern capture".to_string())?;
        self.caps[l].1 = CapLen::Len(s - self.caps[l].0);
        let r = self.do_match(s, p)?;
        if r.is_none() {
            self.caps[l].1 = CapLen::Unfinished;
        }
        Ok(r)
    }

    fn match_balance(&self, s: usize, p: usize) -> Result<Option<usize>, String> {
        if p + 1 >= self.pat.len() {
            return Err("malformed pattern (missing arguments to '%b')".into());
        }
        let (open, close) = (self.pat[p], self.pat[p + 1]);
        if self.src.get(s) != Some(&open) {
            return Ok(None);
        }
        let mut depth = 1;
        for i in s + 1..self.src.len() {
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

    fn match_capture(&self, s: usize, digit: u8) -> Result<Option<usize>, String> {
        let l = (digit as usize).wrapping_sub(b'1' as usize);
        let len = match self.caps.get(l) {
            Some(&(_, CapLen::Len(len))) if l < self.level => len,
            _ => return Err(format!("invalid capture index %{}", l.wrapping_add(1))),
        };
        let start = self.caps[l].0;
        if self.src.len() - s >= len && self.src[start..start + len] == self.src[s..s + len] {
            Ok(Some(s + len))
        } else {
            Ok(None)
        }
    }
}

/// Finds the first match at or after `init`; returns `(start, end)` and leaves the captures
/// in `m`.
pub(crate) fn find(m: &mut Matcher, init: usize) -> Result<Option<(usize, usize)>, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn first(src: &str, pat: &str) -> Option<String> {
        let mut m = Matcher::new(src.as_bytes(), pat.as_bytes());
        let (s, e) = find(&mut m, 0).unwrap()?;
        match m.capture(0, s, e).unwrap() {
            Capture::Range(a, b) => Some(src[a..b].to_string()),
            Capture::Position(p) => Some(p.to_string()),
        }
    }

    #[test]
    fn basics() {
        assert_eq!(first("hello world", "o w"), Some("o w".into()));
        assert_eq!(first("hello", "l+"), Some("ll".into()));
        assert_eq!(
            first("key = value", "(%w+)%s*=%s*(%w+)"),
            Some("key".into())
        );
        assert_eq!(first("f(a(b)c)d", "%b()"), Some("(a(b)c)".into()));
        assert_eq!(first("THE (quick) fox", "%f[%a]%a+"), Some("THE".into()));
        assert_eq!(first("abc", "()b"), Some("2".into()));
        assert_eq!(first("aaa", "^a-$"), Some("aaa".into()));
        assert_eq!(first("x]y", "[]]"), Some("]".into()));
        assert_eq!(first("abab", "(ab)%1"), Some("ab".into()));
        assert_eq!(first("abc", "^b"), None);
    }

    #[test]
    fn errors() {
        let mut m = Matcher::new(b"abc", b"[a");
        assert!(find(&mut m, 0).unwrap_err().contains("missing ']'"));
        let mut m = Matcher::new(b"abc", b"%");
        assert!(find(&mut m, 0).unwrap_err().contains("ends with '%'"));
    }
}
