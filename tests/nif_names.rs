//! The NIF functions are named twice: by the library (`runtime_nif/src/`: each
//! `#[rustler::nif]` function and each `raw_nif!`, which `rustler::init!` registers) and by
//! the stub module `elixir_scope_nif` (`runtime_nif/erlang/elixir_scope_nif.erl`: its
//! `-nifs([...])` attributes and stub functions). A name or arity in one and not the other is a
//! function that raises `nif_error` or a library the VM refuses to load; here both sources are
//! read (no VM, no build of the library) and must name the same `name/arity` set.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use erl_tokenize::{Symbol, TokenValue};
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;

/// `(name, arity)` of a NIF.
type Nif = (String, usize);

fn runtime_nif() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime_nif")
}

/// The NIFs the library's sources under `dir` register: each `#[rustler::nif]` function,
/// counted as rustler counts it (its arguments but a leading `Env`; `name = "..."` renames it),
/// and each `raw_nif!` (one argument per pattern of its list).
fn registered_in_rust(dir: &Path, found: &mut BTreeSet<Nif>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            registered_in_rust(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            let file = syn::parse_file(&text)
                .unwrap_or_else(|e| panic!("{}: not Rust: {e}", path.display()));
            registered_in_items(&file.items, &path, found);
        }
    }
}

fn registered_in_items(items: &[syn::Item], path: &Path, found: &mut BTreeSet<Nif>) {
    for item in items {
        match item {
            syn::Item::Fn(function) => {
                for attr in function.attrs.iter().filter(|a| is_rustler_nif(a.path())) {
                    let mut name = function.sig.ident.to_string();
                    if matches!(attr.meta, syn::Meta::List(_)) {
                        attr.parse_nested_meta(|meta| {
                            let value: syn::LitStr = meta.value()?.parse()?;
                            if meta.path.is_ident("name") {
                                name = value.value();
                            }
                            Ok(())
                        })
                        .unwrap_or_else(|e| {
                            panic!("{}: #[rustler::nif(...)]: {e}", path.display())
                        });
                    }
                    let arity = function
                        .sig
                        .inputs
                        .iter()
                        .enumerate()
                        .filter(|(i, input)| !(*i == 0 && is_env(input)))
                        .count();
                    found.insert((name, arity));
                }
            }
            syn::Item::Macro(item) if item.mac.path.is_ident("raw_nif") => {
                let nif = item
                    .mac
                    .parse_body_with(raw_nif)
                    .unwrap_or_else(|e| panic!("{}: raw_nif!: {e}", path.display()));
                found.insert(nif);
            }
            syn::Item::Mod(syn::ItemMod {
                content: Some((_, items)),
                ..
            }) => registered_in_items(items, path, found),
            _ => {}
        }
    }
}

/// `#[rustler::nif]` or `#[nif]`, with or without options.
fn is_rustler_nif(path: &syn::Path) -> bool {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    segments == ["rustler", "nif"] || segments == ["nif"]
}

/// Whether an argument is rustler's `Env` (which the VM does not pass).
fn is_env(input: &syn::FnArg) -> bool {
    match input {
        syn::FnArg::Typed(typed) => match &*typed.ty {
            syn::Type::Path(ty) => ty.path.segments.last().is_some_and(|s| s.ident == "Env"),
            _ => false,
        },
        syn::FnArg::Receiver(_) => false,
    }
}

/// The name and arity of a `raw_nif!`: `/// docs fn NAME(env, [ARG, ...]) via RUN(...) { ... }`.
fn raw_nif(input: ParseStream) -> syn::Result<Nif> {
    input.call(syn::Attribute::parse_outer)?;
    input.parse::<syn::Token![fn]>()?;
    let name: syn::Ident = input.parse()?;
    let signature;
    syn::parenthesized!(signature in input);
    syn::Pat::parse_single(&signature)?;
    signature.parse::<syn::Token![,]>()?;
    let arguments;
    syn::bracketed!(arguments in signature);
    let arguments = Punctuated::<syn::Pat, syn::Token![,]>::parse_terminated_with(
        &arguments,
        syn::Pat::parse_single,
    )?;
    // The runner and the body.
    input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((_, next)) = rest.token_tree() {
            rest = next;
        }
        Ok(((), rest))
    })?;
    Ok((name.to_string(), arguments.len()))
}

/// The functions the `-nifs([Name/Arity, ...])` attributes of an Erlang module name.
fn declared_in_erlang(source: &str) -> BTreeSet<Nif> {
    let tokens: Vec<TokenValue> = erl_tokenize::scan_tokens(source)
        .expect("elixir_scope_nif.erl is Erlang")
        .into_iter()
        .filter(|t| t.kind().is_lexical())
        .map(|t| t.value(source))
        .collect();
    let symbol =
        |i: usize, s: Symbol| matches!(tokens.get(i), Some(TokenValue::Symbol(x)) if *x == s);
    let mut found = BTreeSet::new();
    for start in 0..tokens.len() {
        let attribute = symbol(start, Symbol::Hyphen)
            && matches!(tokens.get(start + 1), Some(TokenValue::Atom(a)) if a == "nifs")
            && symbol(start + 2, Symbol::OpenParen)
            && symbol(start + 3, Symbol::OpenSquare);
        if !attribute {
            continue;
        }
        let mut i = start + 4;
        loop {
            match (tokens.get(i), tokens.get(i + 2)) {
                (Some(TokenValue::Atom(name)), Some(TokenValue::Integer(Some(arity))))
                    if symbol(i + 1, Symbol::Slash) =>
                {
                    found.insert((name.to_string(), *arity as usize));
                }
                other => panic!("-nifs: expected Name/Arity, found {other:?}"),
            }
            i += 3;
            if symbol(i, Symbol::Comma) {
                i += 1;
            } else {
                assert!(symbol(i, Symbol::CloseSquare), "-nifs: expected , or ]");
                break;
            }
        }
    }
    found
}

fn listed(nifs: &BTreeSet<&Nif>) -> String {
    if nifs.is_empty() {
        return "(none)".into();
    }
    let names: Vec<String> = nifs.iter().map(|(n, a)| format!("{n}/{a}")).collect();
    names.join(", ")
}

#[test]
fn the_library_registers_exactly_the_functions_its_stub_module_declares() {
    let mut rust = BTreeSet::new();
    registered_in_rust(&runtime_nif().join("src"), &mut rust);
    let stub = runtime_nif().join("erlang/elixir_scope_nif.erl");
    let erlang = declared_in_erlang(&std::fs::read_to_string(&stub).unwrap());

    // Both sides were read: the hot path's raw NIFs and the query NIFs among them.
    for nif in [("enter", 5), ("tail_call", 6), ("trace", 5), ("calls", 1)] {
        let nif = (nif.0.to_string(), nif.1);
        assert!(rust.contains(&nif), "{nif:?} not found in runtime_nif/src/");
        assert!(erlang.contains(&nif), "{nif:?} not found in -nifs");
    }
    let only_rust: BTreeSet<&Nif> = rust.difference(&erlang).collect();
    let only_erlang: BTreeSet<&Nif> = erlang.difference(&rust).collect();
    assert!(
        only_rust.is_empty() && only_erlang.is_empty(),
        "the NIFs of runtime_nif/src/ and the -nifs attributes of \
         runtime_nif/erlang/elixir_scope_nif.erl differ:\n  \
         registered by the library, missing from -nifs: {}\n  \
         in -nifs, registered by no #[rustler::nif] or raw_nif!: {}",
        listed(&only_rust),
        listed(&only_erlang)
    );
}

#[test]
fn the_readers_see_names_arities_renames_and_raw_nifs() {
    let file: syn::File = syn::parse_quote! {
        #[rustler::nif]
        fn plain<'a>(env: Env<'a>, a: Term<'a>, b: u8) -> Term<'a> { a }
        #[rustler::nif(schedule = "DirtyIo", name = "renamed")]
        fn inner(a: Term) -> Term { a }
        raw_nif! {
            /// Docs.
            fn raw(env, [a, b, _c]) via run_nif() { Ok(a) }
        }
        fn not_a_nif(a: u8) {}
    };
    let mut rust = BTreeSet::new();
    registered_in_items(&file.items, Path::new("quoted"), &mut rust);
    let expected: BTreeSet<Nif> = [("plain", 2), ("renamed", 1), ("raw", 3)]
        .map(|(n, a)| (n.to_string(), a))
        .into();
    assert_eq!(rust, expected);

    let erlang = declared_in_erlang(
        "-module(m).\n% -nifs([commented/1]).\n-nifs([a/0, b/2]).\n-nifs(['c d'/1]).\n",
    );
    let expected: BTreeSet<Nif> = [("a", 0), ("b", 2), ("c d", 1)]
        .map(|(n, a)| (n.to_string(), a))
        .into();
    assert_eq!(erlang, expected);
}
