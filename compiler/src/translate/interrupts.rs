//! Epoch interruption and fuel ([`Settings::epoch_interruption`], [`Settings::consume_fuel`]).
//!
//! Both are checked where a guest can run unboundedly without passing a check otherwise: at
//! every loop header (iteration) and every function entry (recursion). Epoch checks leave
//! out the entry check of a function that does not call: a cycle of calls passes through
//! functions that call, and the loader checks the deadline on every entry from the host;
//! a function with neither calls nor loops has no epoch check at all. Straight-line code
//! between two checks is bounded by the function's size.
//!
//! **Epoch**, fault-based ([`Settings::epoch_probe`], where it applies): a check is one load,
//! its result unused, from the instance's probe page (its address read from the VMContext
//! once per function). The engine makes the page unreadable when the store's deadline is
//! reached; the load, a trap site with code `Interrupt`, then faults, and the loader's
//! handler runs the deadline behaviour in a stub that saves every register and resumes the
//! load once the page is readable again. No compare, no branch, one register.
//!
//! **Epoch**, signal-interrupted ([`Settings::epoch_signal`], x86_64): function bodies carry
//! no checks at all. The engine sends the thread running a store whose deadline it reached a
//! signal; the handler redirects the wasm code it interrupts, at any instruction, into the
//! same stub. What a signal cannot redirect is code outside wasm (a builtin, a host
//! function, the runtime), so a probe load sits wherever control comes back into wasm from
//! there: after every builtin call (here), in entry trampolines and in exit trampolines after
//! the host function returned (`trampolines.rs`). A signal that found the thread outside
//! wasm is caught by the next of those, the probe page being armed first; every later tick
//! signals again while the store runs.
//!
//! **Epoch**, load and compare (elsewhere): a check loads the engine's epoch counter (its address is read from the store
//! state once per function) and compares it with the store's deadline, which the function
//! keeps in a register (loaded at entry and again after every call, which may have set a new
//! one); the slow path, a cold block, calls the `EpochInterrupt` builtin. That call, which
//! clobbers memory, is also what keeps the counter load at a loop header from being merged
//! with an earlier one.
//!
//! **Fuel**: each operator's cost ([`fuel_cost`]) is added, in batches, to a variable that
//! lives in a register: the costs of a straight-line run are summed at translation time and
//! added once before the next control transfer or call. The variable is the store state's
//! counter (fuel consumed beyond the budget, so negative while fuel remains): loaded at entry,
//! written back before every call and return and reloaded after calls. A check finding it
//! at or above zero (the fuel used up) traps with `OutOfFuel` (a trap instruction, or the `Trap` builtin without
//! signals), and the loader then records the store's fuel as used up. The counts are fixed at
//! translation, so the same module and input trap at the same operator on every run and
//! target.
//!
//! [`Settings::epoch_interruption`]: precast_format::header::Settings::epoch_interruption
//! [`Settings::consume_fuel`]: precast_format::header::Settings::consume_fuel
//! [`Settings::epoch_probe`]: precast_format::header::Settings::epoch_probe
//! [`Settings::epoch_signal`]: precast_format::header::Settings::epoch_signal

use super::Translator;
use super::env::trap;
use cranelift_codegen::ir::{
    self, InstBuilder,
    condcodes::IntCC,
    types::{I8, I64},
};
use cranelift_frontend::Variable;
use precast_format::TrapCode;
use precast_format::abi::{self, epoch_probe};
use precast_format::builtins::Builtin;
use wasmparser::{FunctionBody, Operator as O};

/// The fuel an operator costs: 1, except for those that do no work of their own (`nop`,
/// `drop`, `block`, `loop`, `else`, `end`, `unreachable`, `return`), which cost 0.
pub(crate) fn fuel_cost(op: &O<'_>) -> i64 {
    match op {
        O::Nop
        | O::Drop
        | O::Block { .. }
        | O::Loop { .. }
        | O::Else
        | O::End
        | O::Unreachable
        | O::Return => 0,
        _ => 1,
    }
}

/// Whether the pending fuel cost must be added before `op`: it transfers control or calls.
fn ends_run(op: &O<'_>) -> bool {
    matches!(
        op,
        O::Loop { .. }
            | O::If { .. }
            | O::Else
            | O::End
            | O::Br { .. }
            | O::BrIf { .. }
            | O::BrTable { .. }
            | O::BrOnNull { .. }
            | O::BrOnNonNull { .. }
            | O::Return
            | O::Call { .. }
            | O::CallIndirect { .. }
            | O::CallRef { .. }
            | O::ReturnCall { .. }
            | O::ReturnCallIndirect { .. }
            | O::ReturnCallRef { .. }
    )
}

/// What a function body contains that decides where it needs checks.
struct Shape {
    /// A call of any kind (tail calls included).
    calls: bool,
    /// A loop.
    loops: bool,
}

impl Shape {
    const ALL: Shape = Shape {
        calls: true,
        loops: true,
    };

    /// Scans the operators; a body that does not parse is taken to have both (the
    /// translation reports the error).
    fn of(body: &FunctionBody<'_>) -> Shape {
        let mut shape = Shape {
            calls: false,
            loops: false,
        };
        let Ok(mut reader) = body.get_operators_reader() else {
            return Shape::ALL;
        };
        while !reader.eof() {
            match reader.read() {
                Ok(
                    O::Call { .. }
                    | O::CallIndirect { .. }
                    | O::CallRef { .. }
                    | O::ReturnCall { .. }
                    | O::ReturnCallIndirect { .. }
                    | O::ReturnCallRef { .. },
                ) => shape.calls = true,
                Ok(O::Loop { .. }) => shape.loops = true,
                Ok(_) => continue,
                Err(_) => return Shape::ALL,
            }
            if shape.calls && shape.loops {
                break;
            }
        }
        shape
    }
}

/// Per-function state of the checks.
#[derive(Default)]
pub(crate) struct Interrupts {
    /// The store state (set at entry when either check is compiled in).
    store: Option<ir::Value>,
    /// The engine's epoch counter (epoch interruption, load and compare).
    epoch_counter: Option<ir::Value>,
    /// The instance's probe page (epoch interruption, fault-based).
    epoch_probe: Option<ir::Value>,
    /// Fault-based checks emitted so far: the offset of the next one.
    probes: u32,
    /// The store's deadline, as last loaded.
    deadline: Option<Variable>,
    /// The fuel counter (with fuel).
    fuel: Option<Variable>,
    /// Cost of the operators translated since the last addition to `fuel`.
    pending: i64,
}

impl Translator<'_, '_> {
    /// At function entry: loads what the checks need, then checks if the function calls.
    pub(crate) fn interrupts_entry(&mut self, body: &FunctionBody<'_>) {
        let s = self.env.settings;
        if !s.epoch_interruption && !s.consume_fuel {
            return;
        }
        if s.epoch_signal {
            return; // no checks in the body but after builtin calls (`after_builtin`)
        }
        // With fuel, every entry checks (no fuel left: no function runs); epochs skip the
        // entry check of functions that do not call, and the loader checks the deadline
        // on every entry from the host.
        let shape = if s.consume_fuel {
            Shape::ALL
        } else {
            Shape::of(body)
        };
        if !shape.calls && !shape.loops {
            return; // bounded by its size
        }
        let ptr = self.env.ptr;
        let store = self.load_invariant(ptr, self.vmctx, self.env.offsets.store);
        self.interrupts.store = Some(store);
        if s.epoch_interruption && s.epoch_probe {
            let page = self.load_invariant(ptr, self.vmctx, self.env.offsets.epoch_probe);
            self.interrupts.epoch_probe = Some(page);
        } else if s.epoch_interruption {
            let counter = self.load_invariant(ptr, store, abi::store::EPOCH_COUNTER);
            self.interrupts.epoch_counter = Some(counter);
            self.interrupts.deadline = Some(self.b.declare_var(I64));
            self.deadline_reload();
        }
        if s.consume_fuel {
            let var = self.b.declare_var(I64);
            let v = self.load_trusted(I64, store, abi::store::FUEL);
            self.b.def_var(var, v);
            self.interrupts.fuel = Some(var);
        }
        if shape.calls {
            self.interrupt_checks();
        }
    }

    /// The checks of a function entry or loop header.
    pub(crate) fn interrupt_checks(&mut self) {
        if self.interrupts.fuel.is_some() {
            self.fuel_check();
        }
        if let Some(page) = self.interrupts.epoch_probe {
            self.epoch_probe(page);
        }
        if self.interrupts.epoch_counter.is_some() {
            self.epoch_check();
        }
    }

    /// Counts `op`'s fuel, adding the pending cost first if `op` ends a straight-line run.
    pub(crate) fn fuel_before(&mut self, op: &O<'_>) {
        if self.interrupts.fuel.is_none() {
            return;
        }
        self.interrupts.pending += fuel_cost(op);
        if ends_run(op) {
            self.fuel_flush();
        }
    }

    /// Before a call or return: the fuel counter back to the store state.
    pub(crate) fn fuel_save(&mut self) {
        if let (Some(var), Some(store)) = (self.interrupts.fuel, self.interrupts.store) {
            self.fuel_flush();
            let v = self.b.use_var(var);
            self.b.ins().store(
                ir::MemFlagsData::trusted(),
                v,
                store,
                abi::store::FUEL as i32,
            );
        }
    }

    /// After a call: the fuel counter and the deadline as the callee (or the host) left
    /// them.
    pub(crate) fn after_call(&mut self) {
        if let (Some(var), Some(store)) = (self.interrupts.fuel, self.interrupts.store) {
            let v = self.load_trusted(I64, store, abi::store::FUEL);
            self.b.def_var(var, v);
        }
        self.deadline_reload();
    }

    /// After a builtin call, with signal-interrupted epoch checks: a probe of the
    /// instance's page (its address read from the VMContext here, so no register holds it
    /// elsewhere), for a signal that came while the builtin ran.
    pub(crate) fn after_builtin(&mut self) {
        if !self.env.settings.epoch_signal {
            return;
        }
        let ptr = self.env.ptr;
        let page = self.load_trusted(ptr, self.vmctx, self.env.offsets.epoch_probe);
        self.epoch_probe(page);
    }

    fn deadline_reload(&mut self) {
        if let (Some(var), Some(store)) = (self.interrupts.deadline, self.interrupts.store) {
            let v = self.load_trusted(I64, store, abi::store::EPOCH_DEADLINE);
            self.b.def_var(var, v);
        }
    }

    fn fuel_flush(&mut self) {
        let Some(var) = self.interrupts.fuel else {
            return;
        };
        let cost = std::mem::take(&mut self.interrupts.pending);
        if cost != 0 {
            let v = self.b.use_var(var);
            let v = self.b.ins().iadd_imm_s(v, cost);
            self.b.def_var(var, v);
        }
    }

    /// Traps with `OutOfFuel` when the counter is at or above zero (no fuel left): no call on the way, so the
    /// check costs no registers (the loader records the store's fuel as used up).
    fn fuel_check(&mut self) {
        let Some(var) = self.interrupts.fuel else {
            return;
        };
        self.fuel_flush();
        let v = self.b.use_var(var);
        let out = self
            .b
            .ins()
            .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, v, 0);
        self.trapnz(out, TrapCode::OutOfFuel);
    }

    /// A fault-based check: a byte load from the probe page, its result unused (kept: a load
    /// that may trap is a side effect), at an offset no other check of the function uses.
    /// Past [`epoch_probe::SPAN`] checks, compares instead.
    fn epoch_probe(&mut self, page: ir::Value) {
        let offset = self.interrupts.probes;
        if offset < epoch_probe::SPAN {
            self.interrupts.probes += 1;
            let flags = ir::MemFlagsData::new().with_trap_code(Some(trap(TrapCode::Interrupt)));
            self.b.ins().load(I8, flags, page, offset as i32);
            return;
        }
        let Some(store) = self.interrupts.store else {
            return;
        };
        let ptr = self.env.ptr;
        let counter = self.load_invariant(ptr, store, abi::store::EPOCH_COUNTER);
        let deadline = self.load_trusted(I64, store, abi::store::EPOCH_DEADLINE);
        self.epoch_compare(counter, deadline);
    }

    /// Calls `EpochInterrupt` (in a cold block) when the epoch reached the deadline.
    fn epoch_check(&mut self) {
        let (Some(counter), Some(deadline)) =
            (self.interrupts.epoch_counter, self.interrupts.deadline)
        else {
            return;
        };
        let deadline = self.b.use_var(deadline);
        self.epoch_compare(counter, deadline);
    }

    fn epoch_compare(&mut self, counter: ir::Value, deadline: ir::Value) {
        let epoch = self.load_trusted(I64, counter, 0);
        let reached = self
            .b
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, epoch, deadline);
        self.slow_path(reached, |t| {
            t.fuel_save();
            let st = t.call_builtin_cold(Builtin::EpochInterrupt, &[])[0];
            t.trap_if_status(st);
            t.after_call();
        });
    }

    /// Runs `emit` in a cold block entered when `cond` is non-zero; continues after it.
    fn slow_path(&mut self, cond: ir::Value, emit: impl FnOnce(&mut Self)) {
        let cold = self.b.create_block();
        let cont = self.b.create_block();
        self.b.set_cold_block(cold);
        self.b.ins().brif(cond, cold, &[], cont, &[]);
        self.b.seal_block(cold);
        self.b.switch_to_block(cold);
        emit(self);
        self.b.ins().jump(cont, &[]);
        self.b.seal_block(cont);
        self.b.switch_to_block(cont);
    }
}
