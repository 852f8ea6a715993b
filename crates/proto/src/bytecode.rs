//! The register bytecode: one `Op` per instruction, eight bytes each.
//!
//! Registers are frame slots `R[0..max_stack)`; `K[k]` is the prototype's constant `k`;
//! `Up[u]` is the closure's upvalue `u`. `RK(c)` is `K[c]` when the op's `kc` flag is set and
//! `R[c]` otherwise. Jump offsets are relative to the instruction after the jump. Comparison
//! and test ops carry their own jump: "if cond == k then pc += off".
//!
//! The ops follow Lua 5.4's instruction set closely in meaning (it is a well-tuned set for a
//! register machine) but not in encoding: operands are plain fields and comparisons are fused
//! with their jump, so the interpreter never decodes bits or dispatches twice for one branch.

/// One instruction. See the module docs for the operand notation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `R[a] := R[b]`
    Move {
        a: u8,
        b: u8,
    },
    /// `R[a] := i` (an integer)
    LoadI {
        a: u8,
        i: i32,
    },
    /// `R[a] := f` (a float with an integral value)
    LoadF {
        a: u8,
        f: i32,
    },
    /// `R[a] := K[k]`
    LoadK {
        a: u8,
        k: u32,
    },
    /// `R[a] := false`
    LoadFalse {
        a: u8,
    },
    /// `R[a] := false; pc += 1` (materialises the false branch of a comparison)
    LoadFalseSkip {
        a: u8,
    },
    /// `R[a] := true`
    LoadTrue {
        a: u8,
    },
    /// `R[a], ..., R[a+n] := nil` (n + 1 registers)
    LoadNil {
        a: u8,
        n: u8,
    },

    /// `R[a] := Up[b]`
    GetUpval {
        a: u8,
        b: u8,
    },
    /// `Up[b] := R[a]`
    SetUpval {
        a: u8,
        b: u8,
    },

    /// `R[a] := Up[b][K[k]]`, `K[k]` a string (globals through `_ENV`)
    GetTabUp {
        a: u8,
        b: u8,
        k: u32,
    },
    /// `R[a] := R[b][R[c]]`
    GetTable {
        a: u8,
        b: u8,
        c: u8,
    },
    /// `R[a] := R[b][c]` with `c` an integer key 0..=255
    GetInt {
        a: u8,
        b: u8,
        c: u8,
    },
    /// `R[a] := R[b][K[k]]`, `K[k]` a string
    GetField {
        a: u8,
        b: u8,
        k: u32,
    },
    /// `Up[a][K[k]] := RK(c)`, `K[k]` a string
    SetTabUp {
        a: u8,
        c: u8,
        kc: bool,
        k: u32,
    },
    /// `R[a][R[b]] := RK(c)`
    SetTable {
        a: u8,
        b: u8,
        c: u8,
        kc: bool,
    },
    /// `R[a][b] := RK(c)` with `b` an integer key 0..=255
    SetInt {
        a: u8,
        b: u8,
        c: u8,
        kc: bool,
    },
    /// `R[a][K[k]] := RK(c)`, `K[k]` a string
    SetField {
        a: u8,
        c: u8,
        kc: bool,
        k: u32,
    },
    /// `R[a] := {}` sized for `array` array items and `hash` hash items
    NewTable {
        a: u8,
        hash: u8,
        array: u32,
    },
    /// `R[a+1] := R[b]; R[a] := R[b][K[k]]`, `K[k]` a string (method calls)
    SelfK {
        a: u8,
        b: u8,
        k: u32,
    },

    /// `R[a] := R[b] + i`
    AddI {
        a: u8,
        b: u8,
        i: i16,
    },
    /// `R[a] := R[b] + K[k]`, `K[k]` a number (likewise the other `*K` ops)
    AddK {
        a: u8,
        b: u8,
        k: u32,
    },
    SubK {
        a: u8,
        b: u8,
        k: u32,
    },
    MulK {
        a: u8,
        b: u8,
        k: u32,
    },
    ModK {
        a: u8,
        b: u8,
        k: u32,
    },
    PowK {
        a: u8,
        b: u8,
        k: u32,
    },
    DivK {
        a: u8,
        b: u8,
        k: u32,
    },
    IDivK {
        a: u8,
        b: u8,
        k: u32,
    },
    /// `R[a] := R[b] & K[k]`, `K[k]` an integer (likewise `BOrK`, `BXorK`)
    BAndK {
        a: u8,
        b: u8,
        k: u32,
    },
    BOrK {
        a: u8,
        b: u8,
        k: u32,
    },
    BXorK {
        a: u8,
        b: u8,
        k: u32,
    },
    /// `R[a] := R[b] >> i`
    ShrI {
        a: u8,
        b: u8,
        i: i16,
    },
    /// `R[a] := i << R[b]`
    ShlI {
        a: u8,
        b: u8,
        i: i16,
    },
    /// `R[a] := R[b] + R[c]` (likewise the other binary ops)
    Add {
        a: u8,
        b: u8,
        c: u8,
    },
    Sub {
        a: u8,
        b: u8,
        c: u8,
    },
    Mul {
        a: u8,
        b: u8,
        c: u8,
    },
    Mod {
        a: u8,
        b: u8,
        c: u8,
    },
    Pow {
        a: u8,
        b: u8,
        c: u8,
    },
    Div {
        a: u8,
        b: u8,
        c: u8,
    },
    IDiv {
        a: u8,
        b: u8,
        c: u8,
    },
    BAnd {
        a: u8,
        b: u8,
        c: u8,
    },
    BOr {
        a: u8,
        b: u8,
        c: u8,
    },
    BXor {
        a: u8,
        b: u8,
        c: u8,
    },
    Shl {
        a: u8,
        b: u8,
        c: u8,
    },
    Shr {
        a: u8,
        b: u8,
        c: u8,
    },
    /// `R[a] := -R[b]`
    Unm {
        a: u8,
        b: u8,
    },
    /// `R[a] := ~R[b]`
    BNot {
        a: u8,
        b: u8,
    },
    /// `R[a] := not R[b]`
    Not {
        a: u8,
        b: u8,
    },
    /// `R[a] := #R[b]`
    Len {
        a: u8,
        b: u8,
    },
    /// `R[a] := R[a] .. ... .. R[a+n-1]` (n >= 2)
    Concat {
        a: u8,
        n: u8,
    },

    /// Close upvalues and to-be-closed variables for registers `>= a`.
    Close {
        a: u8,
    },
    /// Mark `R[a]` as a to-be-closed variable.
    Tbc {
        a: u8,
    },
    /// `pc += off`
    Jmp {
        off: i32,
    },
    /// `if (R[a] == R[b]) == k then pc += off`
    Eq {
        a: u8,
        b: u8,
        k: bool,
        off: i32,
    },
    /// `if (R[a] < R[b]) == k then pc += off`
    Lt {
        a: u8,
        b: u8,
        k: bool,
        off: i32,
    },
    /// `if (R[a] <= R[b]) == k then pc += off`
    Le {
        a: u8,
        b: u8,
        k: bool,
        off: i32,
    },
    /// `if (R[a] == K[c]) == k then pc += off` (`c` indexes a constant, 0..=255)
    EqK {
        a: u8,
        c: u8,
        k: bool,
        off: i32,
    },
    /// `if (R[a] == i) == k then pc += off` (`i` an integer)
    EqI {
        a: u8,
        i: i8,
        k: bool,
        off: i32,
    },
    /// `if (R[a] < i) == k then pc += off`
    LtI {
        a: u8,
        i: i8,
        k: bool,
        off: i32,
    },
    /// `if (R[a] <= i) == k then pc += off`
    LeI {
        a: u8,
        i: i8,
        k: bool,
        off: i32,
    },
    /// `if (R[a] > i) == k then pc += off`
    GtI {
        a: u8,
        i: i8,
        k: bool,
        off: i32,
    },
    /// `if (R[a] >= i) == k then pc += off`
    GeI {
        a: u8,
        i: i8,
        k: bool,
        off: i32,
    },
    /// `if truthy(R[a]) == k then pc += off`
    Test {
        a: u8,
        k: bool,
        off: i32,
    },
    /// `if truthy(R[b]) == k then { R[a] := R[b]; pc += off }`
    TestSet {
        a: u8,
        b: u8,
        k: bool,
        off: i32,
    },

    /// `R[a], ..., R[a+c-2] := R[a](R[a+1], ..., R[a+b-1])`.
    /// `b == 0`: arguments up to the top set by the previous op; `c == 0`: keep every
    /// result and set the top after the last.
    Call {
        a: u8,
        b: u8,
        c: u8,
    },
    /// `return R[a](R[a+1], ..., R[a+b-1])` (`b == 0` as in `Call`)
    TailCall {
        a: u8,
        b: u8,
    },
    /// `return R[a], ..., R[a+b-2]` (`b == 0`: up to the top)
    Return {
        a: u8,
        b: u8,
    },
    /// `return`
    Return0,
    /// `return R[a]`
    Return1 {
        a: u8,
    },

    /// Numeric for: `R[a]` start, `R[a+1]` limit, `R[a+2]` step, `R[a+3]` the control
    /// variable. Checks and prepares the loop; when it runs zero times, `pc += off` (past the
    /// matching `ForLoop`).
    ForPrep {
        a: u8,
        off: i32,
    },
    /// Steps the loop; when it continues, updates `R[a+3]` and `pc += off` (backwards).
    ForLoop {
        a: u8,
        off: i32,
    },
    /// Generic for: `R[a]` iterator, `R[a+1]` state, `R[a+2]` control, `R[a+3]` closing
    /// value (to be closed). Marks `R[a+3]` to be closed and `pc += off` (to the `TForCall`).
    TForPrep {
        a: u8,
        off: i32,
    },
    /// `R[a+4], ..., R[a+3+c] := R[a](R[a+1], R[a+2])`
    TForCall {
        a: u8,
        c: u8,
    },
    /// `if R[a+4] ~= nil then { R[a+2] := R[a+4]; pc += off }` (backwards)
    TForLoop {
        a: u8,
        off: i32,
    },

    /// `R[a][start+i] := R[a+i]` for `1 <= i <= n`; `n == 0`: up to the top.
    SetList {
        a: u8,
        n: u8,
        start: u32,
    },
    /// `R[a] := closure(protos[p])`
    Closure {
        a: u8,
        p: u32,
    },
    /// `R[a], ..., R[a+c-2] := ...` (`c == 0`: every vararg, sets the top)
    VarArg {
        a: u8,
        c: u8,
    },
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_op_is_eight_bytes() {
        assert_eq!(core::mem::size_of::<super::Op>(), 8);
    }
}
