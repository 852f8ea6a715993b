//! Labels and pending gotos, found by name so that a chunk with many of them compiles in
//! time proportional to its size (lua5.4 searches lists, which is quadratic).

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

/// The position of the last entry with each name, indexed by the name's id (ids are
/// dense: one per distinct string of the chunk). Each entry links to the one before it
/// with the same name, so no map from names to lists is needed.
#[derive(Default)]
struct LastByName(Vec<Option<usize>>);

impl LastByName {
    fn get(&self, name: StrId) -> Option<usize> {
        self.0.get(name as usize).copied().flatten()
    }

    fn set(&mut self, name: StrId, position: Option<usize>) {
        let i = name as usize;
        if i >= self.0.len() {
            self.0.resize(i + 1, None);
        }
        self.0[i] = position;
    }
}

/// The visible labels of every function being compiled, innermost last.
#[derive(Default)]
pub(crate) struct Labels {
    /// Each label with the position of the previous label of the same name.
    list: Vec<(LabelDesc, Option<usize>)>,
    last: LastByName,
}

impl Labels {
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn push(&mut self, label: LabelDesc) {
        self.list.push((label, self.last.get(label.name)));
        self.last.set(label.name, Some(self.list.len() - 1));
    }

    /// Forgets the labels from position `len` on (their block has ended).
    pub(crate) fn truncate(&mut self, len: usize) {
        while self.list.len() > len {
            if let Some((label, previous)) = self.list.pop() {
                self.last.set(label.name, previous);
            }
        }
    }

    /// The label named `name` among those from position `first` on (the current function's).
    pub(crate) fn find(&self, name: StrId, first: usize) -> Option<LabelDesc> {
        let position = self.last.get(name)?;
        (position >= first).then(|| self.list[position].0)
    }
}

/// Gotos waiting for their label. Solved ones leave a hole until the end of the list is
/// dropped, so that positions (which blocks remember) stay valid.
#[derive(Default)]
pub(crate) struct Gotos {
    /// Each goto (`None` once solved) with the position of the previous pending goto of the
    /// same name.
    list: Vec<(Option<LabelDesc>, Option<usize>)>,
    /// The last pending goto of each name; the links from it only reach pending ones.
    last: LastByName,
}

impl Gotos {
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn push(&mut self, goto: LabelDesc) {
        self.list.push((Some(goto), self.last.get(goto.name)));
        self.last.set(goto.name, Some(self.list.len() - 1));
    }

    /// The first pending goto from position `first` on.
    pub(crate) fn first_pending(&self, first: usize) -> Option<LabelDesc> {
        self.list.get(first..)?.iter().find_map(|(goto, _)| *goto)
    }

    /// Removes and returns, in order, the pending gotos named `name` from position `first` on.
    pub(crate) fn take_named(&mut self, name: StrId, first: usize) -> Vec<LabelDesc> {
        let mut taken = Vec::new();
        let mut position = self.last.get(name);
        while let Some(p) = position.filter(|&p| p >= first) {
            let (goto, previous) = &mut self.list[p];
            taken.extend(goto.take());
            position = *previous;
        }
        self.last.set(name, position);
        taken.reverse();
        taken
    }

    /// The pending gotos from position `first` on.
    pub(crate) fn pending_mut(&mut self, first: usize) -> impl Iterator<Item = &mut LabelDesc> {
        let first = first.min(self.list.len());
        self.list[first..]
            .iter_mut()
            .filter_map(|(goto, _)| goto.as_mut())
    }

    /// Drops solved gotos at the end of the list, down to position `first` (where the block
    /// that is ending started: positions below belong to enclosing blocks).
    pub(crate) fn drop_solved_tail(&mut self, first: usize) {
        while self.list.len() > first && matches!(self.list.last(), Some((None, _))) {
            self.list.pop();
        }
    }
}
