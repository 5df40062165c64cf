//! Every beam of the installed Elixir and OTP survives read -> write byte for byte, decodes
//! completely, and the written file passes the BEAM loader.

use std::fmt::Write as _;
use std::path::PathBuf;

use beam_format::{attributes, etf, literals, Beam, ChunkId, DebugInfo, Tables};
use support::{eval_erlang, installed_beams};

/// Decodes everything the later stages need; returns the module name.
fn decode_all(beam: &Beam) -> Result<String, String> {
    let tables = Tables::decode(beam).map_err(|e| e.to_string())?;
    DebugInfo::decode(beam).map_err(|e| e.to_string())?;
    if let Some(chunk) = beam.chunk(ChunkId::LITT) {
        literals::decode(chunk).map_err(|e| e.to_string())?;
    }
    attributes::attributes(beam).map_err(|e| e.to_string())?;
    attributes::compile_info(beam).map_err(|e| e.to_string())?;
    Ok(tables.module().to_string())
}

#[test]
fn every_installed_beam_round_trips_byte_for_byte_and_loads() {
    let beams = installed_beams();
    assert!(
        beams.len() > 1000,
        "expected the ~1,200 beams of Elixir and OTP, found {}",
        beams.len()
    );
    let out = tempfile::tempdir().expect("temp dir");

    let (written, failures) = etf::with_large_stack(|| {
        let mut written: Vec<(String, PathBuf)> = Vec::new();
        let mut failures = String::new();
        for (i, path) in beams.iter().enumerate() {
            let bytes = std::fs::read(path).expect("reading a beam");
            let beam = match Beam::parse(&bytes) {
                Ok(beam) => beam,
                Err(e) => {
                    writeln!(failures, "{}: does not parse: {e}", path.display()).unwrap();
                    continue;
                }
            };
            let again = beam.to_file_bytes();
            let same = if beam.compressed {
                Beam::parse(&again).map(|b| b.to_container_bytes()).ok()
                    == Some(beam.to_container_bytes())
            } else {
                again == bytes
            };
            if !same {
                writeln!(failures, "{}: written bytes differ", path.display()).unwrap();
                continue;
            }
            match decode_all(&beam) {
                Ok(module) => {
                    let copy = out.path().join(format!("{i}.beam"));
                    std::fs::write(&copy, &again).expect("writing a copy");
                    written.push((module, copy));
                }
                Err(e) => writeln!(failures, "{}: {e}", path.display()).unwrap(),
            }
        }
        (written, failures)
    });
    assert!(failures.is_empty(), "beams that failed:\n{failures}");

    // Load every written copy in a fresh VM: the real loader checks it (prepare_loading works
    // for sticky and already loaded modules too); modules not loaded yet are loaded for real.
    let manifest = out.path().join("manifest.eterm");
    let mut terms = String::new();
    for (module, path) in &written {
        writeln!(
            terms,
            "{{<<{module:?}/utf8>>, {:?}}}.",
            path.display().to_string()
        )
        .unwrap();
    }
    std::fs::write(&manifest, terms).expect("writing the manifest");
    let script = format!(
        r#"
        {{ok, Entries}} = file:consult({manifest:?}),
        Bad = lists:filtermap(fun({{Name, Path}}) ->
            Module = binary_to_atom(Name, utf8),
            {{ok, Bin}} = file:read_file(Path),
            case erlang:prepare_loading(Module, Bin) of
                {{error, Why}} -> {{true, {{Module, prepare_loading, Why}}}};
                _Prepared ->
                    case erlang:module_loaded(Module) of
                        true -> false;
                        false ->
                            case code:load_binary(Module, Path, Bin) of
                                {{module, Module}} -> false;
                                {{error, on_load_failure}} -> false;
                                Other -> {{true, {{Module, load_binary, Other}}}}
                            end
                    end
            end
        end, Entries),
        io:format("checked ~p~n", [length(Entries)]),
        [io:format("FAILED ~p~n", [B]) || B <- Bad],
        halt()."#,
        manifest = manifest.display().to_string()
    );
    let output = eval_erlang(&script, &[]);
    assert!(
        output.contains(&format!("checked {}", written.len())) && !output.contains("FAILED"),
        "loader check failed:\n{output}"
    );
}
