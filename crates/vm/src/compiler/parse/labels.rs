//! Labels and pending gotos, indexed by name so that a chunk with many of them compiles in
//! time proportional to its size (lua5.4 searches lists, which is quadratic).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::compiler::lexer::StrId;

/// A label, or a pending goto (a `break` is a goto to the label `break`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct LabelDesc {
    pub(crate) name: StrId,
    /// The label's position, or the goto's jump list.
    pub(crate) pc: i32,
    pub(crate) line: u32,
    /// Active variables where it appears.
    pub(crate) active_vars: u32,
    /// The goto leaves the scope of a variable that must be closed.
    pub(crate) close: bool,
}

/// The visible labels of every function being compiled, innermost last.
#[derive(Default)]
pub(crate) struct Labels {
    list: Vec<LabelDesc>,
    /// Positions in `list` of the labels with each name, in order.
    by_name: BTreeMap<StrId, Vec<usize>>,
}

impl Labels {
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn push(&mut self, label: LabelDesc) {
        self.by_name
            .entry(label.name)
            .or_default()
            .push(self.list.len());
        self.list.push(label);
    }

    /// Forgets the labels from position `len` on (their block has ended).
    pub(crate) fn truncate(&mut self, len: usize) {
        while self.list.len() > len {
            if let Some(label) = self.list.pop() {
                if let Some(positions) = self.by_name.get_mut(&label.name) {
                    positions.pop();
                }
            }
        }
    }

    /// The label named `name` among those from position `first` on (the current function's).
    pub(crate) fn find(&self, name: StrId, first: usize) -> Option<LabelDesc> {
        let &position = self.by_name.get(&name)?.last()?;
        (position >= first).then(|| self.list[position])
    }
}

/// Gotos waiting for their label. Solved ones leave a hole until the end of the list is
/// dropped, so that positions (which blocks remember) stay valid.
#[derive(Default)]
pub(crate) struct Gotos {
    list: Vec<Option<LabelDesc>>,
    /// Positions in `list` of the pending gotos with each name, in order.
    by_name: BTreeMap<StrId, Vec<usize>>,
}

impl Gotos {
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn push(&mut self, goto: LabelDesc) {
        self.by_name
            .entry(goto.name)
            .or_default()
            .push(self.list.len());
        self.list.push(Some(goto));
    }

    /// The first pending goto from position `first` on.
    pub(crate) fn first_pending(&self, first: usize) -> Option<LabelDesc> {
        self.list.get(first..)?.iter().find_map(|goto| *goto)
    }

    /// Removes and returns, in order, the pending gotos named `name` from position `first` on.
    pub(crate) fn take_named(&mut self, name: StrId, first: usize) -> Vec<LabelDesc> {
        let Some(positions) = self.by_name.get_mut(&name) else {
            return Vec::new();
        };
        let start = positions
            .iter()
            .rposition(|&p| p < first)
            .map_or(0, |p| p + 1);
        let taken: Vec<LabelDesc> = positions[start..]
            .iter()
            .filter_map(|&p| self.list[p].take())
            .collect();
        positions.truncate(start);
        taken
    }

    /// The pending gotos from position `first` on.
    pub(crate) fn pending_mut(&mut self, first: usize) -> impl Iterator<Item = &mut LabelDesc> {
        let first = first.min(self.list.len());
        self.list[first..].iter_mut().flatten()
    }

    /// Drops solved gotos at the end of the list, down to position `first` (where the block
    /// that is ending started: positions below belong to enclosing blocks).
    pub(crate) fn drop_solved_tail(&mut self, first: usize) {
        while self.list.len() > first && matches!(self.list.last(), Some(None)) {
            self.list.pop();
        }
    }
}
