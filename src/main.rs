//! The `deaap-gen` binary: parse the command line, run, map to an exit code.

use clap::Parser;

/// Compiling allocates many small, short-lived values (YAML nodes, Rego values); mimalloc serves
/// them markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc 2's `mi_option_purge_extend_delay`, by its number in `mi_option_e`: the crate names
/// only some of the options. The test below checks the number against the options' defaults.
const PURGE_EXTEND_DELAY: libmimalloc_sys::mi_option_t = 25;

fn main() -> std::process::ExitCode {
    // mimalloc gives freed pages back to the system 10 ms after a segment's first free, but each
    // further free pushes that back by this many milliseconds: while a build frees memory as fast
    // as it allocates, nothing goes back and the resident peak grows by what was freed. At 0, a
    // build of 1,000 services peaks at 106 MiB instead of 117 MiB in the same time (README,
    // "Performance").
    #[expect(
        unsafe_code,
        reason = "an allocator option is set through its C interface"
    )]
    // SAFETY: sets an integer option that mimalloc reads at every purge, before any thread starts
    // (the options are not guarded for threads setting them at once).
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_EXTEND_DELAY, 0);
    }
    let cli = match deaap_gen::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version are successes; any other usage error is invalid input.
            return std::process::ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    std::process::ExitCode::from(deaap_gen::cli::run(cli))
}

#[cfg(test)]
mod tests {
    use super::PURGE_EXTEND_DELAY;

    /// The option numbered `PURGE_EXTEND_DELAY` is `purge_extend_delay`: it and its neighbours hold
    /// mimalloc 2's defaults for `purge_delay` (10 ms), `arena_purge_mult` (10) and
    /// `purge_extend_delay` (1 ms). A mimalloc that numbers its options otherwise fails here.
    #[test]
    fn the_option_set_at_start_is_the_purge_extension() {
        #[expect(
            unsafe_code,
            reason = "reads allocator options through their C interface"
        )]
        // SAFETY: reads integer options; nothing sets them in this test binary.
        let (purge_delay, arena_purge_mult, extension) = unsafe {
            (
                libmimalloc_sys::mi_option_get(15),
                libmimalloc_sys::mi_option_get(PURGE_EXTEND_DELAY - 1),
                libmimalloc_sys::mi_option_get(PURGE_EXTEND_DELAY),
            )
        };
        if std::env::vars().any(|(k, _)| k.starts_with("MIMALLOC_")) {
            return;
        }
        assert_eq!((purge_delay, arena_purge_mult, extension), (10, 10, 1));
    }
}
