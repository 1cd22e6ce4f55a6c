//! The step table owns every fact of a step (issue 25): the reference in docs/plans.md is
//! generated from it, every row states its proxy behaviour, docs and what curl reports, and
//! each row's journal cost covers what its value really allocates (measured with a counting
//! allocator, so a step whose cost forgets its value fails here, as `grpc-message` did).

use httpfault::fuzzing::{plan_cost, step_reference, Plan, Proxy, ProxyUse, STEPS};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

/// Counts the bytes this thread has allocated and not freed.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    // `try_with`: during thread teardown the counter may be gone; nothing to count then.
    let _ = LIVE.try_with(|l| l.set(l.get() + delta));
}

// SAFETY: every call is forwarded unchanged to the system allocator with the same layout and
// pointer; the only addition is a thread-local counter (a `Cell` with const init, which never
// allocates), so the allocator's contract is the system allocator's.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        note(new as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.with(|l| l.get())
}

#[test]
fn docs_plans_md_is_the_step_tables_reference() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/plans.md");
    let want = step_reference();
    if std::env::var_os("HTTPFAULT_WRITE_DOCS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let got = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        got == want,
        "docs/plans.md differs from the step tables: run `make plans-doc` and commit it"
    );
}

#[test]
fn every_step_states_every_fact() {
    for s in STEPS {
        assert!(
            !s.help.is_empty() && !s.docs.is_empty() && !s.curl.is_empty(),
            "{}",
            s.name
        );
        let plan = Plan::parse(s.example).unwrap_or_else(|e| panic!("{}: {e}", s.example));
        assert!(
            plan.to_string().split('/').any(|seg| seg == s.name
                || seg.starts_with(&format!("{}=", s.name))
                || seg.starts_with(&format!("{}@", s.name))),
            "{}: the example {} does not hold the step",
            s.name,
            s.example
        );
        match s.proxy {
            Proxy::Answers => assert_eq!(plan.proxy, ProxyUse::Answers, "{}", s.example),
            Proxy::Shapes => assert_eq!(plan.proxy, ProxyUse::Shapes, "{}", s.example),
            Proxy::Refused(why) => {
                // The example may hold other refused steps; the first one is named.
                let err = plan.check_proxy().unwrap_err().to_string();
                assert!(err.contains(why), "{err}");
            }
            Proxy::Ending => {
                assert_eq!(plan.proxy, ProxyUse::Shapes, "{}", s.example);
                let lost = Plan::parse(&format!("{}=req:10", s.name)).unwrap();
                assert_eq!(lost.proxy, ProxyUse::Answers, "{}=req:10", s.name);
            }
        }
    }
}

/// The plan text of step `s` holding a large value, where its value is free text (or a field),
/// or given many times where it repeats: what a client could send in a path or header plan.
fn large(s: &httpfault::fuzzing::StepDefRef) -> Option<String> {
    let usage = s.synopsis();
    let text = "x".repeat(10_000);
    if usage.ends_with("=TEXT") {
        return Some(format!("{}={text}", s.name));
    }
    if usage.ends_with("=NAME:VALUE") {
        return Some(format!("{}=X-Big:{text}", s.name));
    }
    if s.repeatable {
        return Some(vec![s.example; 16].join("/"));
    }
    None
}

#[test]
fn each_steps_journal_cost_covers_what_its_value_allocates() {
    let base = plan_cost(&Plan::default());
    let mut checked = 0;
    for s in STEPS {
        let Some(text) = large(s) else { continue };
        let before = live();
        let plan = Plan::parse(&text).unwrap_or_else(|e| panic!("{text:.60}: {e}"));
        let held = (live() - before).max(0) as usize;
        let counted = plan_cost(&plan) - base;
        assert!(
            counted >= held,
            "{}: the journal counts {counted} bytes for a plan that holds {held}",
            s.name
        );
        // And not wildly more (malloc rounding and headers only).
        assert!(
            counted <= held * 2 + 256,
            "{}: {counted} for {held}",
            s.name
        );
        drop(plan);
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} steps hold values");
}
