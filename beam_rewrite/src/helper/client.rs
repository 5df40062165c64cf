//! One helper process and the requests it serves.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eetf::{Binary, List, Term};

use crate::forms::build::{atom, tuple};
use crate::forms::{self};
use beam_format::etf;

use super::{HelperConfig, HelperError};

/// The largest reply accepted (a compiled beam or a module's forms are a few megabytes).
const MAX_REPLY_BYTES: usize = 1 << 30;

/// Process heaps in multiblock carriers of up to 64 MB instead of one `mmap` per heap over
/// 512 KB: the compiler grows and collects its heap all the time, and a fresh mapping per
/// heap made the kernel's share of a rewrite 10-12% of its CPU (page faults, `munmap`); with
/// these it is 5-6%, and peak memory no higher (measured compiling the elixir app's 253
/// patched modules in one VM).
const HEAP_CARRIERS: [&str; 4] = ["+MHsbct", "2097151", "+MHlmbcs", "65536"];

/// How much of the helper's stderr is kept for error messages.
const STDERR_TAIL_BYTES: usize = 4096;

/// A running helper process.
pub struct Helper {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: Receiver<Result<Vec<u8>, String>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// The thread reading stderr: it ends when the helper's stderr closes.
    stderr_reader: std::thread::JoinHandle<()>,
    timeout: Duration,
}

/// A struct module and its `Inspect` implementation, with their original beams.
#[derive(Debug, Clone)]
pub struct InspectPair {
    /// The struct's module (`Elixir.MyApp.User`).
    pub structure: String,
    /// Its beam.
    pub structure_beam: Vec<u8>,
    /// The implementation's module (`Elixir.Inspect.MyApp.User`).
    pub implementation: String,
    /// Its beam.
    pub implementation_beam: Vec<u8>,
}

/// The fields a struct's `Inspect` implementation hides; `None` when unknown.
pub type Hidden = Option<Vec<String>>;

/// What the helper made of a module's debug info.
#[derive(Debug)]
pub enum FormsReply {
    /// The module's Erlang abstract forms.
    Forms(Vec<Term>),
    /// The debug info holds no code (the backend says why).
    Unavailable(String),
}

impl Helper {
    /// Starts `erl`, which compiles and loads the helper and starts serving.
    pub fn start(config: &HelperConfig) -> Result<Helper, HelperError> {
        Helper::spawn(config, command(config))
    }

    /// Starts the helper `command` (from [`command`]) with pipes for its standard streams.
    fn spawn(config: &HelperConfig, mut command: Command) -> Result<Helper, HelperError> {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|source| HelperError::Start {
            erl: config.erl.clone(),
            source,
        })?;
        let (stdin, stdout, stderr) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(i), Some(o), Some(e)) => (i, o, e),
                _ => {
                    let _ = child.kill();
                    return Err(HelperError::Protocol(
                        "the helper's pipes are missing".into(),
                    ));
                }
            };
        let (send, replies) = mpsc::channel();
        std::thread::spawn(move || read_frames(stdout, send));
        let tail = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&tail);
        let stderr_reader = std::thread::spawn(move || keep_tail(stderr, sink));
        Ok(Helper {
            child,
            stdin: Some(stdin),
            replies,
            stderr: tail,
            stderr_reader,
            timeout: config.timeout,
        })
    }

    /// Turns a module's `Dbgi` chunk into Erlang abstract forms.
    pub fn forms(&mut self, module: &str, dbgi: &[u8]) -> Result<FormsReply, HelperError> {
        let reply = self.call(tuple(vec![
            atom("forms"),
            atom(module),
            Term::from(Binary::from(dbgi)),
        ]))?;
        match ok_or_refused(reply)? {
            Reply::Ok(Term::List(forms)) => Ok(FormsReply::Forms(forms.elements)),
            Reply::Unavailable(why) => Ok(FormsReply::Unavailable(why)),
            other => Err(malformed(&other.describe())),
        }
    }

    /// Compiles forms with options; returns the beam's bytes.
    pub fn compile(
        &mut self,
        forms: Vec<Term>,
        options: Vec<Term>,
    ) -> Result<Vec<u8>, HelperError> {
        let reply = self.call(tuple(vec![
            atom("compile"),
            Term::from(List::from(forms)),
            Term::from(List::from(options)),
        ]))?;
        match ok_or_refused(reply)? {
            Reply::Ok(Term::Binary(beam)) => Ok(beam.bytes),
            other => Err(malformed(&other.describe())),
        }
    }

    /// The fields each struct's own `Inspect` implementation leaves out of its text: for each
    /// pair, the struct and its hidden fields, `None` when that could not be found out (see
    /// the helper's `inspect_hidden`: the implementation runs on a probe value in the helper).
    pub fn inspect_hidden(
        &mut self,
        pairs: &[InspectPair],
    ) -> Result<Vec<(String, Hidden)>, HelperError> {
        let request = pairs
            .iter()
            .map(|pair| {
                tuple(vec![
                    atom(&pair.structure),
                    Term::from(Binary::from(pair.structure_beam.as_slice())),
                    atom(&pair.implementation),
                    Term::from(Binary::from(pair.implementation_beam.as_slice())),
                ])
            })
            .collect::<Vec<_>>();
        let reply = self.call(tuple(vec![
            atom("inspect_hidden"),
            Term::from(List::from(request)),
        ]))?;
        let Reply::Ok(Term::List(answers)) = ok_or_refused(reply)? else {
            return Err(malformed("not a list of answers"));
        };
        answers
            .elements
            .iter()
            .map(|answer| {
                let pair = match answer {
                    Term::Tuple(t) if t.elements.len() == 2 => &t.elements,
                    other => return Err(malformed(&other.to_string())),
                };
                let module = forms::atom_name(&pair[0])
                    .ok_or_else(|| malformed(&pair[0].to_string()))?
                    .to_string();
                let fields = match &pair[1] {
                    Term::List(fields) => Some(
                        fields
                            .elements
                            .iter()
                            .map(|f| {
                                forms::atom_name(f)
                                    .map(str::to_string)
                                    .ok_or_else(|| malformed(&f.to_string()))
                            })
                            .collect::<Result<Vec<_>, _>>()?,
                    ),
                    _ => None,
                };
                Ok((module, fields))
            })
            .collect()
    }

    /// Checks a beam with the real loader (`erlang:prepare_loading/2`), without loading it.
    pub fn check(&mut self, module: &str, beam: &[u8]) -> Result<(), HelperError> {
        let reply = self.call(tuple(vec![
            atom("check"),
            atom(module),
            Term::from(Binary::from(beam)),
        ]))?;
        match ok_or_refused(reply)? {
            Reply::Done => Ok(()),
            other => Err(malformed(&other.describe())),
        }
    }

    fn call(&mut self, request: Term) -> Result<Term, HelperError> {
        let bytes = etf::encode(&request);
        drop(request);
        let length = u32::try_from(bytes.len()).map_err(|_| {
            HelperError::Protocol(format!("a request of {} bytes is too large", bytes.len()))
        })?;
        let written = match self.stdin.as_mut() {
            Some(stdin) => stdin
                .write_all(&length.to_be_bytes())
                .and_then(|_| stdin.write_all(&bytes))
                .and_then(|_| stdin.flush()),
            None => Err(std::io::ErrorKind::BrokenPipe.into()),
        };
        if written.is_err() {
            return Err(self.died());
        }
        match self.replies.recv_timeout(self.timeout) {
            Ok(Ok(frame)) => etf::decode(&frame)
                .map_err(|e| HelperError::Protocol(format!("undecodable reply: {e}"))),
            Ok(Err(why)) => {
                let died = self.died();
                match died {
                    HelperError::Died { status, stderr } if stderr.is_empty() => {
                        Err(HelperError::Died {
                            status,
                            stderr: format!("\n{why}"),
                        })
                    }
                    other => Err(other),
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                self.stop();
                Err(HelperError::Timeout(self.timeout))
            }
            Err(RecvTimeoutError::Disconnected) => Err(self.died()),
        }
    }

    /// The error for a helper that stopped: its exit status and the end of its stderr.
    fn died(&mut self) -> HelperError {
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(2);
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status.to_string(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    self.stop();
                    break "killed".to_string();
                }
            }
        };
        // Let the stderr reader collect the last words: it ends once the dead helper's stderr
        // closes (a loaded machine may take a while to run it; never more than two seconds).
        let deadline = Instant::now() + Duration::from_secs(2);
        while !self.stderr_reader.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let tail = self.stderr.lock().map(|t| t.clone()).unwrap_or_default();
        let text = String::from_utf8_lossy(&tail).trim().to_string();
        HelperError::Died {
            status,
            stderr: if text.is_empty() {
                text
            } else {
                format!("\n{text}")
            },
        }
    }

    fn stop(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Helper {
    /// Closes the helper's stdin (it halts on end of input), then makes sure it is gone.
    fn drop(&mut self) {
        self.stdin = None;
        // A helper halts within a few milliseconds of the end of its input: look often at
        // first (the end of every run waits for this), then every 10 ms.
        let start = Instant::now();
        let deadline = start + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            let pause = if start.elapsed() < Duration::from_millis(100) {
                1
            } else {
                10
            };
            std::thread::sleep(Duration::from_millis(pause));
        }
        self.stop();
    }
}

#[derive(Debug)]
enum Reply {
    Ok(Term),
    Done,
    Unavailable(String),
}

/// Splits `{ok, X}`, `ok`, `{unavailable, Why}` from `{error, Why}` (which becomes an error).
fn ok_or_refused(reply: Term) -> Result<Reply, HelperError> {
    let text = |t: &Term| match t {
        Term::Binary(b) => String::from_utf8_lossy(&b.bytes).into_owned(),
        other => other.to_string(),
    };
    if forms::atom_name(&reply) == Some("ok") {
        return Ok(Reply::Done);
    }
    let Term::Tuple(mut pair) = reply else {
        return Err(malformed(&reply.to_string()));
    };
    if pair.elements.len() != 2 {
        return Err(malformed(&Term::Tuple(pair).to_string()));
    }
    let value = pair.elements.pop().expect("two elements");
    match forms::atom_name(&pair.elements[0]) {
        Some("ok") => Ok(Reply::Ok(value)),
        Some("unavailable") => Ok(Reply::Unavailable(text(&value))),
        Some("error") => Err(HelperError::Refused(text(&value).trim_end().to_string())),
        _ => Err(malformed(&value.to_string())),
    }
}

impl Reply {
    fn describe(&self) -> String {
        match self {
            Reply::Ok(term) => format!("{{ok, {term}}}"),
            Reply::Done => "ok".to_string(),
            Reply::Unavailable(why) => format!("{{unavailable, {why}}}"),
        }
    }
}

fn malformed(shown: &str) -> HelperError {
    let short: String = shown.chars().take(200).collect();
    HelperError::Protocol(format!("unexpected reply {short}"))
}

/// The command that starts a helper (`erl` compiling the helper's source from its command line
/// and serving), without its standard streams.
///
/// It runs in `/` and drops `.` from the code path before anything else is loaded: the user's
/// working directory may hold beams (a `compile.beam` there would otherwise have been loaded
/// in place of the compiler).
///
/// With a [`HelperConfig::compiled_cache`] directory, the helper first loads its beam from
/// there, if a file named by the source's hash and the VM's OTP release and ERTS version is
/// there and the loader takes it (checked with `erlang:prepare_loading/2`, its complaint about
/// a damaged file logged to stderr: fd 1 carries the replies);
/// otherwise it compiles the source and, when the directory exists, leaves
/// its beam there (0600, written to a temporary name and renamed) for the next run.
/// Compiling the source costs 80-100 ms of a helper's start (BENCHMARKS.md, "`instrument` in
/// the edit-compile loop").
fn command(config: &HelperConfig) -> Command {
    let source = erlang_string(super::HELPER_SOURCE);
    let backends: Vec<String> = config.backends.iter().map(|b| erlang_atom(b)).collect();
    // The cached beam's path, as an Erlang expression (`none` without a cache).
    let cached = match config.compiled_cache.as_deref().and_then(Path::to_str) {
        Some(dir) => format!(
            "filename:join({}, \"helper-{}-\" ++ erlang:system_info(otp_release) ++ \"-\" ++ \
             erlang:system_info(version) ++ \".beam\")",
            erlang_string(dir),
            &blake3::hash(super::HELPER_SOURCE.as_bytes()).to_hex()[..16]
        ),
        None => "none".to_string(),
    };
    let boot = format!(
        "code:del_path(\".\"), \
         Serve = fun(B) -> \
                   {{module, M}} = code:load_binary(elixir_scope_helper, \"elixir_scope_helper.erl\", B), \
                   try M:main([{backends}]) after halt(2) end \
                 end, \
         Cached = {cached}, \
         Cached =/= none andalso begin \
           _ = logger:remove_handler(default), \
           ok =:= logger:add_handler(default, logger_std_h, \
                                     #{{config => #{{type => standard_error}}}}) \
         end, \
         Saved = case Cached of \
                   none -> none; \
                   _ -> case file:read_file(Cached) of \
                          {{ok, CB}} -> case erlang:prepare_loading(elixir_scope_helper, CB) of \
                                          {{error, _}} -> none; _ -> {{ok, CB}} end; \
                          _ -> none \
                        end \
                 end, \
         case Saved of {{ok, SB}} -> Serve(SB); none -> ok end, \
         Parse = fun P([], [], Forms) -> lists:reverse(Forms); \
                     P([{{dot, _}} = Dot | Rest], Form, Forms) -> \
                         {{ok, F}} = erl_parse:parse_form(lists:reverse([Dot | Form])), \
                         P(Rest, [], [F | Forms]); \
                     P([Token | Rest], Form, Forms) -> P(Rest, [Token | Form], Forms) \
                 end, \
         {{ok, Tokens, _}} = erl_scan:string({source}), \
         case compile:forms(Parse(Tokens, [], []), [binary, return_errors]) of \
           {{ok, _, B}} -> \
             case Cached =/= none andalso filelib:is_dir(filename:dirname(Cached)) of \
               true -> Tmp = Cached ++ \".\" ++ os:getpid() ++ \".tmp\", \
                       try ok = file:write_file(Tmp, <<>>), \
                           ok = file:change_mode(Tmp, 8#600), \
                           ok = file:write_file(Tmp, B), \
                           ok = file:rename(Tmp, Cached) \
                       catch _:_ -> file:delete(Tmp) end; \
               false -> ok \
             end, \
             Serve(B); \
           Error -> io:format(standard_error, \"cannot compile the helper: ~p~n\", [Error]), \
                    halt(3) \
         end.",
        backends = backends.join(", ")
    );
    let mut command = Command::new(&config.erl);
    // One scheduler that sleeps when idle: helpers run side by side, one module each.
    // `no_dot_erlang`: the standard boot without its last step, evaluating `~/.erlang` (the
    // boot `erlc` and `escript` use): the helper takes nothing from the user's files, and
    // does not load the shell's module `c` to find that there is none.
    command.args([
        "-noshell",
        "-noinput",
        "-boot",
        "no_dot_erlang",
        "+S",
        "1:1",
        "+sbwt",
        "none",
        "+sbwtdcpu",
        "none",
        "+sbwtdio",
        "none",
    ]);
    command.args(HEAP_CARRIERS);
    if let Some(ebin) = &config.elixir_ebin {
        command.arg("-pa").arg(ebin);
    }
    command.args(["-eval", &boot]).current_dir("/");
    command
}

/// Reads `{packet, 4}` frames until the stream ends or a frame is impossible.
fn read_frames(mut stdout: impl Read, send: mpsc::Sender<Result<Vec<u8>, String>>) {
    loop {
        let mut header = [0u8; 4];
        if let Err(e) = stdout.read_exact(&mut header) {
            let _ = send.send(Err(format!("reading a reply: {e}")));
            return;
        }
        let length = u32::from_be_bytes(header) as usize;
        if length > MAX_REPLY_BYTES {
            let _ = send.send(Err(format!(
                "the helper wrote something that is not a reply (starting with {:?})",
                String::from_utf8_lossy(&header)
            )));
            return;
        }
        let mut frame = vec![0; length];
        if let Err(e) = stdout.read_exact(&mut frame) {
            let _ = send.send(Err(format!("reading a reply: {e}")));
            return;
        }
        if send.send(Ok(frame)).is_err() {
            return;
        }
    }
}

/// Keeps the last [`STDERR_TAIL_BYTES`] the helper writes to stderr.
fn keep_tail(mut stderr: impl Read, tail: Arc<Mutex<Vec<u8>>>) {
    let mut buffer = [0u8; 4096];
    while let Ok(n) = stderr.read(&mut buffer) {
        if n == 0 {
            return;
        }
        if let Ok(mut tail) = tail.lock() {
            tail.extend_from_slice(&buffer[..n]);
            let excess = tail.len().saturating_sub(STDERR_TAIL_BYTES);
            tail.drain(..excess);
        }
    }
}

/// An Erlang atom literal, quoted.
fn erlang_atom(name: &str) -> String {
    format!("'{}'", name.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// An Erlang string literal.
fn erlang_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A helper whose `erl` is a shell script standing in for a broken VM.
    fn fake(script: &str, timeout: Duration) -> (tempfile::TempDir, Helper) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let erl = dir.path().join("erl");
        std::fs::write(&erl, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&erl, std::fs::Permissions::from_mode(0o755)).unwrap();
        let config = HelperConfig {
            erl,
            elixir_ebin: None,
            timeout,
            backends: Vec::new(),
            compiled_cache: None,
        };
        let helper = Helper::start(&config).unwrap();
        (dir, helper)
    }

    #[test]
    fn a_helper_that_dies_is_an_error_with_its_last_words() {
        let (_dir, mut helper) = fake(
            "echo 'cannot compile the helper' >&2; exit 3",
            Duration::from_secs(60),
        );
        match helper.forms("m", b"dbgi") {
            Err(HelperError::Died { status, stderr }) => {
                assert!(status.contains('3'), "{status}");
                assert!(stderr.contains("cannot compile the helper"), "{stderr}");
            }
            other => panic!("{other:?}"),
        }
        assert!(helper.check("m", b"beam").unwrap_err().is_fatal());
    }

    #[test]
    fn a_helper_that_writes_text_is_a_protocol_error() {
        let (_dir, mut helper) = fake(
            "echo 'Eshell V13.1.5'; exec sleep 30",
            Duration::from_secs(60),
        );
        let error = helper.compile(vec![], vec![]).unwrap_err();
        assert!(error.to_string().contains("not a reply"), "{error}");
    }

    #[test]
    fn a_helper_that_never_answers_times_out_and_is_stopped() {
        let (_dir, mut helper) = fake("exec sleep 600", Duration::from_millis(300));
        let error = helper.forms("m", b"dbgi").unwrap_err();
        assert!(matches!(error, HelperError::Timeout(_)), "{error}");
        assert!(
            helper.child.try_wait().unwrap().is_some(),
            "the process was killed"
        );
    }

    /// Compiles an Erlang module into a fresh directory; returns it.
    fn compiled(name: &str, source: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(format!("{name}.erl"));
        std::fs::write(&file, source).unwrap();
        let output = Command::new("erlc")
            .arg("-o")
            .arg(dir.path())
            .arg(&file)
            .output()
            .expect("erlc on PATH (apt-get install -y erlang-nox)");
        assert!(output.status.success(), "{output:?}");
        dir
    }

    /// A `Dbgi` chunk naming `backend`.
    fn dbgi_of(backend: &str) -> Vec<u8> {
        etf::encode(&tuple(vec![
            atom("debug_info_v1"),
            atom(backend),
            atom("data"),
        ]))
    }

    /// The helper keeps its compiled beam in the cache directory (0600, nothing temporary
    /// left), loads it on the next start without writing it again, and compiles its source
    /// again when the cached file is damaged.
    #[test]
    fn helpers_keep_their_compiled_beam_in_the_cache_and_survive_a_damaged_one() {
        use std::os::unix::fs::PermissionsExt;
        let cache = tempfile::tempdir().unwrap();
        let mut config = HelperConfig::discover().expect("erl on PATH");
        config.compiled_cache = Some(cache.path().to_path_buf());
        let module = compiled("cached_probe", "-module(cached_probe).\n");
        let beam = std::fs::read(module.path().join("cached_probe.beam")).unwrap();
        let serve = || {
            let mut helper = Helper::start(&config).unwrap();
            helper
                .check("cached_probe", &beam)
                .expect("the helper serves");
        };
        let files = || -> Vec<std::path::PathBuf> {
            let mut files: Vec<_> = std::fs::read_dir(cache.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            files
        };
        serve();
        let kept = files();
        assert_eq!(kept.len(), 1, "{kept:?}");
        let name = kept[0].file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("helper-") && name.ends_with(".beam"),
            "{name}"
        );
        let meta = std::fs::metadata(&kept[0]).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert!(std::fs::read(&kept[0]).unwrap().starts_with(b"FOR1"));
        // Loaded, not rewritten.
        let written = meta.modified().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        serve();
        assert_eq!(files(), kept);
        assert_eq!(
            std::fs::metadata(&kept[0]).unwrap().modified().unwrap(),
            written
        );
        // Damaged: compiled again, and the file made whole.
        std::fs::write(&kept[0], b"not a beam").unwrap();
        serve();
        assert_eq!(files(), kept);
        assert!(std::fs::read(&kept[0]).unwrap().starts_with(b"FOR1"));
    }

    /// A backend whose `debug_info/4` writes `started` into `dir`, then never returns.
    const STUCK_BACKEND: &str = "-module(stuck_backend).\n-export([debug_info/4]).\n\
        debug_info(_, _, _, _) ->\n\
            ok = file:write_file(filename:join(os:getenv(\"STUCK_DIR\"), \"started\"), <<>>),\n\
            timer:sleep(infinity).\n";

    #[test]
    fn a_helper_halts_when_its_input_ends_even_in_the_middle_of_a_request() {
        let backend = compiled("stuck_backend", STUCK_BACKEND);
        let mut config = HelperConfig::discover().expect("erl on PATH");
        config.backends.push("stuck_backend".into());
        let mut command = command(&config);
        command
            .env("ERL_FLAGS", format!("-pa {}", backend.path().display()))
            .env("STUCK_DIR", backend.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let (mut stdin, stdout) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
        let request = etf::encode(&tuple(vec![
            atom("forms"),
            atom("m"),
            Term::from(Binary::from(dbgi_of("stuck_backend"))),
        ]));
        stdin
            .write_all(&(request.len() as u32).to_be_bytes())
            .unwrap();
        stdin.write_all(&request).unwrap();
        stdin.flush().unwrap();
        let started = backend.path().join("started");
        let waiting = Instant::now();
        while !started.exists() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "the helper stopped before the request ran"
            );
            assert!(
                waiting.elapsed() < Duration::from_secs(120),
                "the request never ran"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // The parent "dies": its ends of stdin and stdout close; stderr stays open (the VM
        // must not need a failed write to notice).
        drop(stdin);
        drop(stdout);
        let gone = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if gone.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.is_some(), "the helper outlived its parent");
    }

    /// The compiler is loaded in the background after the first reply, and a `compile`
    /// request waits for that: one that comes first (no reply out yet) must start the loading
    /// itself instead of waiting forever; the compiled beam is then checked by the same helper.
    #[test]
    fn a_compile_request_that_comes_first_is_served() {
        use crate::forms::build::{clause, function, int, list};
        let mut config = HelperConfig::discover().expect("erl on PATH");
        config.timeout = Duration::from_secs(120);
        let mut helper = Helper::start(&config).unwrap();
        let anno = int(1);
        let forms = vec![
            tuple(vec![
                atom("attribute"),
                int(1),
                atom("module"),
                atom("first"),
            ]),
            tuple(vec![
                atom("attribute"),
                int(1),
                atom("export"),
                list(vec![tuple(vec![atom("f"), int(0)])]),
            ]),
            function(
                &anno,
                "f",
                0,
                vec![clause(
                    &anno,
                    vec![],
                    vec![tuple(vec![atom("atom"), int(1), atom("ok")])],
                )],
            ),
            tuple(vec![atom("eof"), int(1)]),
        ];
        let beam = helper.compile(forms, vec![]).expect("compiled");
        assert!(
            beam.starts_with(b"FOR1"),
            "{:?}",
            &beam[..beam.len().min(8)]
        );
        helper.check("first", &beam).expect("the loader takes it");
        // And again, now that the compiler is loaded.
        let again = helper.compile(
            vec![
                tuple(vec![
                    atom("attribute"),
                    int(1),
                    atom("module"),
                    atom("second"),
                ]),
                tuple(vec![atom("eof"), int(1)]),
            ],
            vec![],
        );
        assert!(again.expect("compiled").starts_with(b"FOR1"));
    }

    /// The helper boots without `~/.erlang`: nothing of the user's files runs in it.
    #[test]
    fn a_helper_does_not_run_the_users_dot_erlang() {
        let home = tempfile::tempdir().unwrap();
        let marker = home.path().join("dot_erlang_ran");
        std::fs::write(
            home.path().join(".erlang"),
            format!(
                "file:write_file({}, <<>>).\n",
                erlang_string(&marker.to_string_lossy())
            ),
        )
        .unwrap();
        // The check: `erl` itself, booted the default way, does run it.
        let plain = Command::new("erl")
            .args(["-noshell", "-noinput", "-eval", "halt()."])
            .env("HOME", home.path())
            .current_dir(home.path())
            .output()
            .expect("erl on PATH");
        assert!(plain.status.success(), "{plain:?}");
        assert!(
            marker.exists(),
            "erl did not run ~/.erlang: the test proves nothing"
        );
        std::fs::remove_file(&marker).unwrap();
        let config = HelperConfig::discover().expect("erl on PATH");
        let mut command = command(&config);
        command.env("HOME", home.path());
        let mut helper = Helper::spawn(&config, command).unwrap();
        let module = compiled("dot_probe", "-module(dot_probe).\n");
        let beam = std::fs::read(module.path().join("dot_probe.beam")).unwrap();
        helper.check("dot_probe", &beam).expect("the helper serves");
        drop(helper);
        assert!(!marker.exists(), "the helper ran ~/.erlang");
    }

    #[test]
    fn only_trusted_backends_are_loaded() {
        let evil = compiled(
            "evil_backend",
            "-module(evil_backend).\n-export([debug_info/4]).\n-on_load(pwn/0).\n\
             pwn() -> file:write_file(filename:join(os:getenv(\"EVIL_DIR\"), \"pwned\"), <<>>).\n\
             debug_info(_, _, _, _) -> {ok, []}.\n",
        );
        let config = HelperConfig::discover().expect("erl on PATH");
        let mut command = command(&config);
        command
            .env("ERL_FLAGS", format!("-pa {}", evil.path().display()))
            .env("EVIL_DIR", evil.path());
        // Through the real client, with the evil backend on the code path.
        let mut helper = Helper::spawn(&config, command).unwrap();
        match helper.forms("m", &dbgi_of("evil_backend")).unwrap() {
            FormsReply::Unavailable(why) => {
                assert!(why.contains("evil_backend is not trusted"), "{why}")
            }
            other => panic!("{other:?}"),
        }
        assert!(
            !evil.path().join("pwned").exists(),
            "the backend was loaded"
        );
    }

    #[test]
    fn quotes_paths_as_erlang_strings() {
        assert_eq!(erlang_string(r#"/tmp/a "b"\c"#), r#""/tmp/a \"b\"\\c""#);
        assert_eq!(erlang_atom(r"it's\"), r"'it\'s\\'");
    }

    #[test]
    fn reads_frames_and_refuses_text() {
        let (send, receive) = mpsc::channel();
        let mut bytes = vec![0, 0, 0, 2, 131, 106];
        bytes.extend_from_slice(b"Eshell V13");
        read_frames(bytes.as_slice(), send);
        assert_eq!(receive.recv().unwrap(), Ok(vec![131, 106]));
        let err = receive.recv().unwrap().unwrap_err();
        assert!(err.contains("not a reply"), "{err}");
    }

    #[test]
    fn splits_replies() {
        let bin = |s: &str| Term::from(Binary::from(s.as_bytes()));
        assert!(matches!(ok_or_refused(atom("ok")), Ok(Reply::Done)));
        assert!(matches!(
            ok_or_refused(tuple(vec![atom("ok"), atom("x")])),
            Ok(Reply::Ok(_))
        ));
        match ok_or_refused(tuple(vec![atom("error"), bin("m.erl:3: bad\n")])) {
            Err(HelperError::Refused(why)) => assert_eq!(why, "m.erl:3: bad"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            ok_or_refused(tuple(vec![atom("what"), atom("x")])),
            Err(HelperError::Protocol(_))
        ));
    }
}
