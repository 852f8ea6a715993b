//! Lua 5.4 patterns: character classes, sets, `%b`, `%f`, anchors, captures (position
//! captures too), back-references and the four quantifiers.
//!
//! A backtracking matcher over bytes. Where the Lua reference recurses (captures, `?`, and
//! each try of `*`, `+`, `-`) it pushes a choice on its own stack, no deeper than
//! [`MAX_DEPTH`], so hostile patterns end in "pattern too complex" as in lua5.4. Every step
//! is counted: when the steps granted run out the match pauses with its whole state in
//! [`State`], and the caller gives the interpreter its turn before resuming it
//! (backtracking can take exponential time within that depth).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use vm::lib::{at, at_mut};

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

/// A point to come back to when the rest of the pattern fails to match, or what to undo
/// on the way back. Each one stands for a nested match of the reference implementation, so
/// their number is its depth.
#[derive(Clone, Copy, Debug)]
enum Choice {
    /// `?` matched one item: without it, go on at `(s, p)`.
    Skip { s: usize, p: usize },
    /// `*` or `+` matched `i` items from `s`: the rest is being tried at `s + i`.
    Max { s: usize, i: usize, ep: usize },
    /// `-`: the rest is being tried at `s`; the item at `p..ep` may take one more.
    Min { s: usize, p: usize, ep: usize },
    /// A capture was opened.
    Open,
    /// Capture `l` was closed.
    Close { l: usize },
}

/// The choices of a match: the first few inline, so that most matches allocate nothing.
#[derive(Debug)]
struct Choices {
    inline: [Choice; INLINE_CHOICES],
    len: usize,
    spill: Vec<Choice>,
}

const INLINE_CHOICES: usize = 16;

impl Choices {
    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn push(&mut self, c: Choice) {
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = c,
            None => self.spill.push(c),
        }
        self.len += 1;
    }

    #[inline]
    fn pop(&mut self) -> Option<Choice> {
        self.len = self.len.checked_sub(1)?;
        match self.inline.get(self.len) {
            Some(&c) => Some(c),
            None => self.spill.pop(),
        }
    }

    fn clear(&mut self) {
        self.len = 0;
        self.spill.clear();
    }
}

/// Where a paused match goes on.
#[derive(Clone, Copy, Debug)]
enum Resume {
    /// Match from `(s, p)` on.
    At(usize, usize),
    /// Count the repetitions of the item `p..ep` at `s`, `i` found so far.
    Count {
        s: usize,
        i: usize,
        p: usize,
        ep: usize,
    },
    /// Go back to the latest choice.
    Back,
}

/// The state of a match, apart from the subject and the pattern: it outlives a pause
/// ([`MatchError::OutOfSteps`]) while they stay with the caller.
#[derive(Debug)]
pub struct State {
    level: usize,
    caps: [(usize, CapLen); MAX_CAPTURES],
    choices: Choices,
    resume: Resume,
    search: Search,
    steps_left: u64,
}

/// The positions a search tries ([`Matcher::search`]).
#[derive(Clone, Copy, Debug, Default)]
struct Search {
    start: usize,
    p: usize,
    anchored: bool,
    reject_end: Option<usize>,
}

impl Default for State {
    fn default() -> Self {
        State {
            level: 0,
            caps: [(0, CapLen::Unfinished); MAX_CAPTURES],
            choices: Choices {
                inline: [Choice::Open; INLINE_CHOICES],
                len: 0,
                spill: Vec::new(),
            },
            resume: Resume::Back,
            search: Search::default(),
            steps_left: 0,
        }
    }
}

/// What a stretch of forward matching ended with.
enum Next {
    Matched(usize),
    Failed,
    Go(Resume),
}

/// A match of one pattern against one subject, resumable after it ran out of steps.
pub struct Matcher<'a> {
    src: &'a [u8],
    pat: &'a [u8],
    st: State,
}

impl<'a> Matcher<'a> {
    /// A matcher that may take `steps` steps (one per pattern item tried) before it pauses.
    pub fn new(src: &'a [u8], pat: &'a [u8], steps: u64) -> Self {
        let mut m = Self::with_state(src, pat, State::default());
        m.st.steps_left = steps;
        m
    }

    /// The matcher a pause left `st` for, on the same subject and pattern.
    pub fn with_state(src: &'a [u8], pat: &'a [u8], st: State) -> Self {
        Matcher { src, pat, st }
    }

    /// The state to resume with ([`Matcher::with_state`]); this matcher is left at the start.
    pub fn take_state(&mut self) -> State {
        core::mem::take(&mut self.st)
    }

    /// Steps left before the next pause.
    pub fn steps_left(&self) -> u64 {
        self.st.steps_left
    }

    pub fn set_steps(&mut self, steps: u64) {
        self.st.steps_left = steps;
    }

    /// Searches for a match of the pattern from byte `p` on, tried at `init` and then
    /// (unless `anchored`) at each later position; a match ending at `reject_end` does not
    /// count. The bounds of the match, with its captures left in the matcher.
    pub fn search(
        &mut self,
        init: usize,
        p: usize,
        anchored: bool,
        reject_end: Option<usize>,
    ) -> Res<Option<(usize, usize)>> {
        self.st.search = Search {
            start: init,
            p,
            anchored,
            reject_end,
        };
        self.restart();
        self.resume()
    }

    /// Goes on with the search that ran out of steps.
    pub fn resume(&mut self) -> Res<Option<(usize, usize)>> {
        loop {
            let Search {
                start,
                anchored,
                reject_end,
                ..
            } = self.st.search;
            match self.run()? {
                Some(e) if Some(e) != reject_end => return Ok(Some((start, e))),
                _ => {}
            }
            if anchored || start >= self.src.len() {
                return Ok(None);
            }
            self.st.search.start += 1;
            self.restart();
        }
    }

    fn restart(&mut self) {
        self.st.level = 0;
        self.st.choices.clear();
        self.st.resume = Resume::At(self.st.search.start, self.st.search.p);
    }

    /// Captures made by the last successful match.
    pub fn level(&self) -> usize {
        self.st.level
    }

    /// Capture `i` of the match `s..e`; without captures, capture 0 is the whole match.
    pub fn capture(&self, i: usize, s: usize, e: usize) -> Res<Capture> {
        if i >= self.st.level {
            if i != 0 {
                return Err(MatchError::Pattern(format!(
                    "invalid capture index %{}",
                    i + 1
                )));
            }
            return Ok(Capture::Range(s, e));
        }
        let (start, len) = *at(&self.st.caps, i);
        match len {
            CapLen::Position => Ok(Capture::Position(start + 1)),
            CapLen::Len(l) => Ok(Capture::Range(start, start + l)),
            CapLen::Unfinished => Err(MatchError::new("unfinished capture")),
        }
    }

    /// How many values a match yields: its captures, or the whole match if it has none.
    pub fn capture_count(&self) -> usize {
        self.st.level.max(1)
    }

    /// The end of the single-character class at `p`.
    fn class_end(&self, mut p: usize) -> Res<usize> {
        let c = *at(self.pat, p);
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
                let c = *at(self.pat, p);
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
        if *at(self.pat, p) == b'^' {
            yes = false;
            p += 1;
        }
        while p < close {
            if *at(self.pat, p) == b'%' {
                p += 1;
                if class_matches(c, *at(self.pat, p)) {
                    return yes;
                }
                p += 1;
            } else if p + 2 < close && *at(self.pat, p + 1) == b'-' {
                if *at(self.pat, p) <= c && c <= *at(self.pat, p + 2) {
                    return yes;
                }
                p += 3;
            } else {
                if *at(self.pat, p) == c {
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
        match *at(self.pat, p) {
            b'.' => true,
            b'%' => class_matches(c, *at(self.pat, p + 1)),
            b'[' => self.in_set(c, p, ep - 1),
            pc => pc == c,
        }
    }

    /// Runs the current attempt until it matches, fails or runs out of steps.
    fn run(&mut self) -> Res<Option<usize>> {
        loop {
            let next = match core::mem::replace(&mut self.st.resume, Resume::Back) {
                Resume::At(s, p) => self.forward(s, p)?,
                Resume::Count { s, i, p, ep } => self.expand(s, i, p, ep)?,
                Resume::Back => Next::Failed,
            };
            match next {
                Next::Matched(e) => {
                    self.st.choices.clear();
                    return Ok(Some(e));
                }
                Next::Go(r) => self.st.resume = r,
                Next::Failed => match self.backtrack() {
                    Some((s, p)) => self.st.resume = Resume::At(s, p),
                    None => return Ok(None),
                },
            }
        }
    }

    /// Takes a step, or pauses to go on at `resume`.
    #[inline]
    fn step(&mut self, resume: Resume) -> Res<()> {
        if self.st.steps_left == 0 {
            self.st.resume = resume;
            return Err(MatchError::OutOfSteps);
        }
        self.st.steps_left -= 1;
        Ok(())
    }

    /// Enters a nested match (lua5.4 recurses there, at most [`MAX_DEPTH`] deep).
    fn push(&mut self, c: Choice) -> Res<()> {
        if self.st.choices.len() + 1 >= MAX_DEPTH {
            return Err(MatchError::new("pattern too complex"));
        }
        self.st.choices.push(c);
        Ok(())
    }

    /// Goes back to the latest choice with an alternative left, undoing captures on the way.
    fn backtrack(&mut self) -> Option<(usize, usize)> {
        while let Some(c) = self.st.choices.pop() {
            match c {
                Choice::Open => self.st.level -= 1,
                Choice::Close { l } => at_mut(&mut self.st.caps, l).1 = CapLen::Unfinished,
                Choice::Skip { s, p } => return Some((s, p)),
                Choice::Max { s, i, ep } if i > 0 => {
                    self.st.choices.push(Choice::Max { s, i: i - 1, ep });
                    return Some((s + i - 1, ep + 1));
                }
                Choice::Min { s, p, ep } if self.single(s, p, ep) => {
                    self.st.choices.push(Choice::Min { s: s + 1, p, ep });
                    return Some((s + 1, ep + 1));
                }
                Choice::Max { .. } | Choice::Min { .. } => {}
            }
        }
        None
    }

    fn forward(&mut self, mut s: usize, mut p: usize) -> Res<Next> {
        loop {
            self.step(Resume::At(s, p))?;
            if p >= self.pat.len() {
                return Ok(Next::Matched(s));
            }
            match *at(self.pat, p) {
                b'(' => {
                    let (what, next) = if self.pat.get(p + 1) == Some(&b')') {
                        (CapLen::Position, p + 2)
                    } else {
                        (CapLen::Unfinished, p + 1)
                    };
                    if self.st.level >= MAX_CAPTURES {
                        return Err(MatchError::new("too many captures"));
                    }
                    *at_mut(&mut self.st.caps, self.st.level) = (s, what);
                    self.st.level += 1;
                    self.push(Choice::Open)?;
                    p = next;
                    continue;
                }
                b')' => {
                    let l = (0..self.st.level)
                        .rev()
                        .find(|&l| at(&self.st.caps, l).1 == CapLen::Unfinished)
                        .ok_or_else(|| MatchError::new("invalid pattern capture"))?;
                    at_mut(&mut self.st.caps, l).1 = CapLen::Len(s - at(&self.st.caps, l).0);
                    self.push(Choice::Close { l })?;
                    p += 1;
                    continue;
                }
                b'$' if p + 1 == self.pat.len() => {
                    return Ok(if s == self.src.len() {
                        Next::Matched(s)
                    } else {
                        Next::Failed
                    });
                }
                b'%' if self.pat.get(p + 1) == Some(&b'b') => match self.match_balance(s, p + 2)? {
                    Some(e) => {
                        s = e;
                        p += 4;
                        continue;
                    }
                    None => return Ok(Next::Failed),
                },
                b'%' if self.pat.get(p + 1) == Some(&b'f') => {
                    p += 2;
                    if self.pat.get(p) != Some(&b'[') {
                        return Err(MatchError::new("missing '[' after '%f' in pattern"));
                    }
                    let ep = self.class_end(p)?;
                    let prev = if s == 0 { 0 } else { *at(self.src, s - 1) };
                    let cur = self.src.get(s).copied().unwrap_or(0);
                    if !self.in_set(prev, p, ep - 1) && self.in_set(cur, p, ep - 1) {
                        p = ep;
                        continue;
                    }
                    return Ok(Next::Failed);
                }
                b'%' if self.pat.get(p + 1).is_some_and(u8::is_ascii_digit) => {
                    match self.match_back_reference(s, *at(self.pat, p + 1))? {
                        Some(e) => {
                            s = e;
                            p += 2;
                            continue;
                        }
                        None => return Ok(Next::Failed),
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
                return Ok(Next::Failed);
            }
            match quantifier {
                Some(b'?') => {
                    self.push(Choice::Skip { s, p: ep + 1 })?;
                    s += 1;
                    p = ep + 1;
                }
                Some(b'+') => {
                    return Ok(Next::Go(Resume::Count {
                        s: s + 1,
                        i: 0,
                        p,
                        ep,
                    }))
                }
                Some(b'*') => return Ok(Next::Go(Resume::Count { s, i: 0, p, ep })),
                Some(b'-') => {
                    self.push(Choice::Min { s, p, ep })?;
                    p = ep + 1;
                }
                _ => {
                    s += 1;
                    p = ep;
                }
            }
        }
    }

    /// As many repetitions as match (`i` counted already); then fewer, from the choice,
    /// until the rest of the pattern matches.
    fn expand(&mut self, s: usize, mut i: usize, p: usize, ep: usize) -> Res<Next> {
        while self.single(s + i, p, ep) {
            self.step(Resume::Count { s, i, p, ep })?;
            i += 1;
        }
        self.push(Choice::Max { s, i, ep })?;
        Ok(Next::Go(Resume::At(s + i, ep + 1)))
    }

    /// `%bxy` at `s`: the end of the balanced run, if there is one.
    fn match_balance(&mut self, s: usize, p: usize) -> Res<Option<usize>> {
        if p + 1 >= self.pat.len() {
            return Err(MatchError::new(
                "malformed pattern (missing arguments to '%b')",
            ));
        }
        let (open, close) = (*at(self.pat, p), *at(self.pat, p + 1));
        if self.src.get(s) != Some(&open) {
            return Ok(None);
        }
        let mut depth = 1usize;
        let mut end = None;
        for i in s + 1..self.src.len() {
            let c = *at(self.src, i);
            if c == close {
                depth -= 1;
                if depth == 0 {
                    end = Some(i + 1);
                    break;
                }
            } else if c == open {
                depth += 1;
            }
        }
        // One scan of the subject at most: charged whole, it never pauses halfway.
        let scanned = end.unwrap_or(self.src.len()) - s;
        self.st.steps_left = self.st.steps_left.saturating_sub(scanned as u64);
        Ok(end)
    }

    /// `%1`..`%9`: the text of an earlier capture again.
    fn match_back_reference(&mut self, s: usize, digit: u8) -> Res<Option<usize>> {
        let l = (digit as usize).wrapping_sub(b'1' as usize);
        if l >= self.st.level || at(&self.st.caps, l).1 == CapLen::Unfinished {
            return Err(MatchError::Pattern(format!(
                "invalid capture index %{}",
                l.wrapping_add(1)
            )));
        }
        // A position capture has no text: it never matches again.
        let CapLen::Len(len) = at(&self.st.caps, l).1 else {
            return Ok(None);
        };
        let start = at(&self.st.caps, l).0;
        let rest = at(self.src, s..);
        if rest.len() >= len && at(self.src, start..start + len) == at(rest, ..len) {
            self.st.steps_left = self.st.steps_left.saturating_sub(len as u64);
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
    m.search(init, usize::from(anchor), anchor, None)
}

/// Plain substring search (`find` with `plain` or a pattern without specials).
pub fn find_plain(src: &[u8], needle: &[u8], init: usize) -> Option<usize> {
    if needle.is_empty() {
        return Some(init);
    }
    let hay = at(src, init..);
    if needle.len() > hay.len() {
        return None;
    }
    let first = *at(needle, 0);
    let last_start = hay.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        match at(hay, i..=last_start).iter().position(|&c| c == first) {
            None => return None,
            Some(off) => {
                let pos = i + off;
                if at(hay, pos..pos + needle.len()) == needle {
                    return Some(init + pos);
                }
                i = pos + 1;
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
    fn a_match_pauses_when_its_steps_run_out_and_resumes_where_it_was() {
        let src = "a".repeat(16);
        let pat = "a?".repeat(16) + &"(a)".repeat(16);
        let mut m = Matcher::new(src.as_bytes(), pat.as_bytes(), 1000);
        let mut found = find(&mut m, 0);
        let mut pauses = 0;
        while found == Err(MatchError::OutOfSteps) {
            pauses += 1;
            // The state alone crosses a pause.
            let st = m.take_state();
            m = Matcher::with_state(src.as_bytes(), pat.as_bytes(), st);
            m.set_steps(1000);
            found = m.resume();
        }
        assert!(pauses > 50, "{pauses} pauses");
        assert_eq!(found, Ok(Some((0, 16))));
        assert_eq!(m.level(), 16);
        assert_eq!(m.capture(15, 0, 16), Ok(Capture::Range(15, 16)));
    }

    #[test]
    fn searches_go_on_after_a_pause() {
        let src = "x".repeat(5000) + "ab";
        let mut m = Matcher::new(src.as_bytes(), b"(a)(b)", 100);
        let mut found = find(&mut m, 0);
        while found == Err(MatchError::OutOfSteps) {
            m.set_steps(100);
            found = m.resume();
        }
        assert_eq!(found, Ok(Some((5000, 5002))));
        assert_eq!(m.capture(1, 5000, 5002), Ok(Capture::Range(5001, 5002)));
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
