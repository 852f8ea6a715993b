//! Method calls on strings (`s:upper()`, `("%d"):format(n)`).
//!
//! piccolo 0.3.3's VM looks methods up with a plain index, which fails on strings: they have
//! no metatable and the VM has no hook. So the compiler's input is rewritten: every method
//! call `obj:name(args)` becomes `invoke(obj, "name", args)`, where `invoke` is a hidden
//! chunk-level local bound to [`invoke`] (a callback). `obj` is still evaluated once. The
//! callback finds the method as Lua 5.4 would (strings in the `string` table, anything else
//! through `__index`) and tail-calls it with `obj` as `self`.

use gc_arena::{Collect, Gc, Rootable};
use piccolo::{
    compiler::{
        parser::{
            AssignmentTarget, Block, CallSuffix, Chunk, ConstructorField, Expression, FieldSuffix,
            ForStatement, HeadExpression, LineAnnotated, LocalStatement, PrimaryExpression,
            RecordKey, SimpleExpression, Statement, SuffixPart, SuffixedExpression,
        },
        CompiledPrototype, LineNumber,
    },
    meta_ops::{self, MetaResult},
    opcode::{OpCode, Operation},
    types::{RegisterIndex, UpValueDescriptor, UpValueIndex},
    BoxSequence, Callback, CallbackReturn, Context, Error, Execution, Sequence, SequencePoll,
    Stack, Table, Value,
};

/// The hidden local's name: not a valid Lua identifier, so no script can name it.
const INVOKE: &[u8] = b"(method call)";

/// Rewrites every method call in `chunk`. Returns whether there was any (then the chunk starts
/// with the hidden local and [`bind_invoke`] must patch the compiled main function).
pub fn rewrite<S: Clone>(chunk: &mut Chunk<S>, name: impl Fn(&[u8]) -> S) -> bool {
    let mut rw = Rewriter {
        invoke: name(INVOKE),
        found: false,
    };
    rw.block(&mut chunk.block);
    if rw.found {
        chunk.block.statements.insert(
            0,
            LineAnnotated {
                // `= false` compiles to one `LoadBool` of its own (a bare `local` could merge
                // with a following one into a wider `LoadNil`); bind_invoke replaces it.
                inner: Statement::LocalStatement(LocalStatement {
                    names: vec![rw.invoke.clone()],
                    values: vec![expr_of(SimpleExpression::False)],
                }),
                line_number: LineNumber(0),
            },
        );
    }
    rw.found
}

/// Makes the main function load the hidden local from a second upvalue instead of `false`.
/// Returns false (and changes nothing) if the compiled code is not the expected shape.
pub fn bind_invoke<S>(main: &mut CompiledPrototype<S>) -> bool {
    match main.opcodes.first().map(|op| op.decode()) {
        Some(Operation::LoadBool {
            dest: RegisterIndex(0),
            value: false,
            skip_next: false,
        }) if main.upvalues.len() <= 1 => {
            main.opcodes[0] = OpCode::encode(Operation::GetUpValue {
                dest: RegisterIndex(0),
                source: UpValueIndex(1),
            });
            // Slot 0 is `_ENV` (kept even when the chunk names no global), slot 1 the helper.
            main.upvalues.resize(2, UpValueDescriptor::Environment);
            true
        }
        _ => false,
    }
}

struct Rewriter<S> {
    invoke: S,
    found: bool,
}

fn expr_of<S>(simple: SimpleExpression<S>) -> Expression<S> {
    Expression {
        head: Box::new(HeadExpression::Simple(simple)),
        tail: Vec::new(),
    }
}

impl<S: Clone> Rewriter<S> {
    fn block(&mut self, block: &mut Block<S>) {
        for st in &mut block.statements {
            self.statement(&mut st.inner);
        }
        if let Some(ret) = &mut block.return_statement {
            for e in &mut ret.inner.returns {
                self.expression(e);
            }
        }
    }

    fn statement(&mut self, st: &mut Statement<S>) {
        match st {
            Statement::If(s) => {
                self.expression(&mut s.if_part.0);
                self.block(&mut s.if_part.1);
                for (c, b) in &mut s.else_if_parts {
                    self.expression(c);
                    self.block(b);
                }
                if let Some(b) = &mut s.else_part {
                    self.block(b);
                }
            }
            Statement::While(s) => {
                self.expression(&mut s.condition);
                self.block(&mut s.block);
            }
            Statement::Do(b) => self.block(b),
            Statement::For(ForStatement::Numeric {
                initial,
                limit,
                step,
                body,
                ..
            }) => {
                self.expression(initial);
                self.expression(limit);
                if let Some(step) = step {
                    self.expression(step);
                }
                self.block(body);
            }
            Statement::For(ForStatement::Generic {
                arguments, body, ..
            }) => {
                for e in arguments {
                    self.expression(e);
                }
                self.block(body);
            }
            Statement::Repeat(s) => {
                self.block(&mut s.body);
                self.expression(&mut s.until);
            }
            Statement::Function(s) => self.block(&mut s.definition.body),
            Statement::LocalFunction(s) => self.block(&mut s.definition.body),
            Statement::LocalStatement(s) => {
                for e in &mut s.values {
                    self.expression(e);
                }
            }
            Statement::FunctionCall(s) => {
                self.suffixed(&mut s.head);
                self.call(&mut s.call);
                if let CallSuffix::Method(method, args) = &mut s.call {
                    let object = std::mem::replace(
                        &mut s.head,
                        SuffixedExpression {
                            primary: PrimaryExpression::Name(self.invoke.clone()),
                            suffixes: Vec::new(),
                        },
                    );
                    let args = self.invoke_args(object, method.clone(), std::mem::take(args));
                    s.call = CallSuffix::Function(args);
                }
            }
            Statement::Assignment(s) => {
                for t in &mut s.targets {
                    if let AssignmentTarget::Field(obj, field) = t {
                        self.suffixed(obj);
                        if let FieldSuffix::Indexed(e) = field {
                            self.expression(e);
                        }
                    }
                }
                for e in &mut s.values {
                    self.expression(e);
                }
            }
            Statement::Label(_) | Statement::Break | Statement::Goto(_) => {}
        }
    }

    fn expression(&mut self, e: &mut Expression<S>) {
        match &mut *e.head {
            HeadExpression::Simple(s) => self.simple(s),
            HeadExpression::UnaryOperator(_, inner) => self.expression(inner),
        }
        for (_, rhs) in &mut e.tail {
            self.expression(rhs);
        }
    }

    fn simple(&mut self, s: &mut SimpleExpression<S>) {
        match s {
            SimpleExpression::TableConstructor(t) => {
                for f in &mut t.fields {
                    match f {
                        ConstructorField::Array(e) => self.expression(e),
                        ConstructorField::Record(key, e) => {
                            if let RecordKey::Indexed(k) = key {
                                self.expression(k);
                            }
                            self.expression(e);
                        }
                    }
                }
            }
            SimpleExpression::Function(f) => self.block(&mut f.body),
            SimpleExpression::Suffixed(s) => self.suffixed(s),
            _ => {}
        }
    }

    fn call(&mut self, call: &mut CallSuffix<S>) {
        match call {
            CallSuffix::Method(_, args) | CallSuffix::Function(args) => {
                for a in args {
                    self.expression(a);
                }
            }
        }
    }

    fn invoke_args(
        &mut self,
        object: SuffixedExpression<S>,
        method: S,
        args: Vec<Expression<S>>,
    ) -> Vec<Expression<S>> {
        self.found = true;
        let mut all = Vec::with_capacity(args.len() + 2);
        all.push(expr_of(SimpleExpression::Suffixed(object)));
        all.push(expr_of(SimpleExpression::String(method)));
        all.extend(args);
        all
    }

    /// Rewrites `a.b:m(x).c:n(y)` left to right into nested `invoke(...)` calls, and `(f())`
    /// into `invoke(nil, nil, f())`, which keeps only the first value (piccolo's compiler
    /// does not truncate a parenthesised call or `...`).
    fn suffixed(&mut self, s: &mut SuffixedExpression<S>) {
        if let PrimaryExpression::GroupedExpression(e) = &mut s.primary {
            self.expression(e);
            if s.suffixes.is_empty() && is_multi_valued(e) {
                let PrimaryExpression::GroupedExpression(e) =
                    std::mem::replace(&mut s.primary, PrimaryExpression::Name(self.invoke.clone()))
                else {
                    unreachable!("matched above")
                };
                self.found = true;
                s.suffixes.push(SuffixPart::Call(CallSuffix::Function(vec![
                    expr_of(SimpleExpression::Nil),
                    expr_of(SimpleExpression::Nil),
                    e,
                ])));
                return;
            }
        }
        for part in &mut s.suffixes {
            match part {
                SuffixPart::Field(FieldSuffix::Indexed(e)) => self.expression(e),
                SuffixPart::Call(c) => self.call(c),
                SuffixPart::Field(FieldSuffix::Named(_)) => {}
            }
        }
        while let Some(j) = s
            .suffixes
            .iter()
            .position(|p| matches!(p, SuffixPart::Call(CallSuffix::Method(..))))
        {
            let rest = s.suffixes.split_off(j + 1);
            let Some(SuffixPart::Call(CallSuffix::Method(method, args))) = s.suffixes.pop() else {
                unreachable!("position found a method call")
            };
            let object = SuffixedExpression {
                primary: std::mem::replace(
                    &mut s.primary,
                    PrimaryExpression::Name(self.invoke.clone()),
                ),
                suffixes: std::mem::take(&mut s.suffixes),
            };
            let args = self.invoke_args(object, method, args);
            s.suffixes
                .push(SuffixPart::Call(CallSuffix::Function(args)));
            s.suffixes.extend(rest);
        }
    }
}

fn is_multi_valued<S>(e: &Expression<S>) -> bool {
    if !e.tail.is_empty() {
        return false;
    }
    match &*e.head {
        HeadExpression::Simple(SimpleExpression::VarArgs) => true,
        HeadExpression::Simple(SimpleExpression::Suffixed(s)) => {
            matches!(s.suffixes.last(), Some(SuffixPart::Call(_)))
        }
        _ => false,
    }
}

#[derive(Collect, Clone, Copy)]
#[collect(no_drop)]
struct Invoke<'gc> {
    callback: Callback<'gc>,
}

impl<'gc> piccolo::Singleton<'gc> for Invoke<'gc> {
    fn create(ctx: Context<'gc>) -> Self {
        let strings = match ctx.get_global("string") {
            Value::Table(t) => t,
            _ => Table::new(&ctx),
        };
        let callback =
            Callback::from_fn_with(&ctx, Gc::new(&ctx, strings), |strings, ctx, exec, stack| {
                call_method(ctx, **strings, exec, stack)
            });
        Invoke { callback }
    }
}

/// The callback bound to the hidden local: `invoke(obj, name, ...)` calls `obj[name](obj, ...)`.
pub fn invoke<'gc>(ctx: Context<'gc>) -> Callback<'gc> {
    ctx.singleton::<Rootable![Invoke<'_>]>().callback
}

const MAX_INDEX_CHAIN: usize = 100;

fn call_method<'gc>(
    ctx: Context<'gc>,
    strings: Table<'gc>,
    exec: Execution<'gc, '_>,
    mut stack: Stack<'gc, '_>,
) -> Result<CallbackReturn<'gc>, Error<'gc>> {
    let object = stack.get(0);
    let name = stack.get(1);
    if object.is_nil() && name.is_nil() {
        // `(f())`: only the first value.
        let first = stack.get(2);
        stack.replace(ctx, first);
        return Ok(CallbackReturn::Return);
    }
    // Tables: walk `__index` tables here, without piccolo's per-lookup callback.
    let mut method = Value::Nil;
    let mut slow = None;
    match object {
        Value::String(_) => method = strings.get_value(name),
        Value::Table(mut t) => {
            for _ in 0..MAX_INDEX_CHAIN {
                let v = t.get_value(name);
                if !v.is_nil() {
                    method = v;
                    break;
                }
                let next = t
                    .metatable()
                    .map(|m| m.get_value(ctx.intern_static(b"__index").into()));
                match next {
                    Some(Value::Table(n)) => t = n,
                    Some(Value::Nil) | None => break,
                    Some(_) => {
                        slow = Some(Value::Table(t));
                        break;
                    }
                }
            }
        }
        other => slow = Some(other),
    }
    if let Some(target) = slow {
        match meta_ops::index(ctx, target, name)? {
            MetaResult::Value(v) => method = v,
            MetaResult::Call(call) => {
                // `__index` is a function: call it, then the method it returns.
                let args: Vec<Value<'gc>> = stack.drain(..).collect();
                stack.extend(call.args);
                return Ok(CallbackReturn::Call {
                    function: call.function,
                    then: Some(BoxSequence::new(&ctx, ThenCall { args })),
                });
            }
        }
    }
    call_found(ctx, &exec, method, name, stack)
}

fn call_found<'gc>(
    ctx: Context<'gc>,
    exec: &Execution<'gc, '_>,
    method: Value<'gc>,
    name: Value<'gc>,
    mut stack: Stack<'gc, '_>,
) -> Result<CallbackReturn<'gc>, Error<'gc>> {
    let function = match method {
        Value::Function(f) => f,
        other => match meta_ops::call(ctx, other) {
            Ok(f) => f,
            Err(_) => {
                let shown = match name {
                    Value::String(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
                    _ => "?".into(),
                };
                return Err(crate::args::error(
                    ctx,
                    exec,
                    format!(
                        "attempt to call a {} value (method '{shown}')",
                        other.type_name()
                    ),
                ));
            }
        },
    };
    // Drop the name: the stack becomes (obj, args...).
    let object = stack.get(0);
    stack.drain(0..2.min(stack.len()));
    stack.push_front(object);
    Ok(CallbackReturn::Call {
        function,
        then: None,
    })
}

/// After an `__index` function produced the method: call it with the original arguments.
#[derive(Collect)]
#[collect(no_drop)]
struct ThenCall<'gc> {
    args: Vec<Value<'gc>>,
}

impl<'gc> Sequence<'gc> for ThenCall<'gc> {
    fn poll(
        &mut self,
        ctx: Context<'gc>,
        exec: Execution<'gc, '_>,
        mut stack: Stack<'gc, '_>,
    ) -> Result<SequencePoll<'gc>, Error<'gc>> {
        let method = stack.get(0);
        stack.clear();
        stack.extend(std::mem::take(&mut self.args));
        let name = stack.get(1);
        match call_found(ctx, &exec, method, name, stack)? {
            CallbackReturn::Call { function, .. } => Ok(SequencePoll::Call {
                function,
                is_tail: true,
            }),
            _ => unreachable!("call_found always calls"),
        }
    }
}
