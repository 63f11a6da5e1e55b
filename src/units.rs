//! Byte sizes at the edges: GiB for people, Kubernetes quantities for manifests.

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// `bytes` as GiB with two decimals, e.g. `79.18 GiB`: how plans and messages print memory.
pub fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / GIB as f64)
}

/// `bytes` as a Kubernetes quantity: whole `Gi` when exact, else `Mi` rounded up.
pub(crate) fn quantity(bytes: u64) -> String {
    if bytes.is_multiple_of(GIB) {
        format!("{}Gi", bytes / GIB)
    } else {
        format!("{}Mi", bytes.div_ceil(MIB))
    }
}

/// What a size looks like, for messages.
const SIZE_EXPECTED: &str =
    "expected a size such as 15Gi, 512Mi or 16G (a Kubernetes quantity), or a number of bytes";

/// Parses a Kubernetes memory quantity into bytes: a number (`1.5`, `16`) with a binary
/// (`Ki` … `Ei`) or decimal (`k`, `M`, `G`, `T`, `P`, `E`) suffix, or plain bytes. A fraction
/// of a byte rounds up, as the API server does for memory.
pub fn parse_quantity(text: &str) -> Result<u64, crate::error::base::ValueError> {
    let bad = || crate::error::base::ValueError::new(text, SIZE_EXPECTED);
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: u128 = match unit {
        "" => 1,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "P" => 1_000_000_000_000_000,
        "E" => 1_000_000_000_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "Ei" => 1 << 60,
        _ => return Err(bad()),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') || fraction.len() > 9 {
        return Err(bad());
    }
    let digits = |s: &str| -> Option<u128> {
        if s.is_empty() {
            Some(0)
        } else {
            s.parse().ok()
        }
    };
    let (Some(whole), Some(frac)) = (digits(whole), digits(fraction)) else {
        return Err(bad());
    };
    let denominator = 10u128.pow(fraction.len() as u32);
    let bytes = whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add((frac * scale).div_ceil(denominator)))
        .and_then(|b| u64::try_from(b).ok());
    match bytes {
        Some(0) => Err(crate::error::base::ValueError::new(
            text,
            "a size must be at least 1 byte",
        )),
        Some(b) => Ok(b),
        None => Err(crate::error::base::ValueError::new(
            text,
            "larger than 16 EiB",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_round_trip() {
        assert_eq!(quantity(15 * GIB), "15Gi");
        assert_eq!(quantity(GIB + 1), "1025Mi");
        assert_eq!(parse_quantity("15Gi"), Ok(15 * GIB));
        assert_eq!(parse_quantity("512Mi"), Ok(512 * MIB));
        assert_eq!(parse_quantity("15G"), Ok(15_000_000_000));
        assert_eq!(parse_quantity("1.5Gi"), Ok(GIB + GIB / 2));
        assert_eq!(parse_quantity("0.5k"), Ok(500));
        assert_eq!(parse_quantity("1024"), Ok(1024));
        for bad in [
            "15GB",
            "0Gi",
            "99999999999999999999Ti",
            "",
            ".",
            "1..5Gi",
            "-1Gi",
            "Gi",
            "1e3",
        ] {
            assert!(parse_quantity(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_quantity("15GB").unwrap_err().to_string(),
            "`15GB`: expected a size such as 15Gi, 512Mi or 16G (a Kubernetes quantity), or a number of bytes"
        );
        assert_eq!(gib(85_018_877_624), "79.18 GiB");
    }

    /// A file may write a size as a quantity or as bytes; both go through `parse_quantity`.
    #[test]
    fn sizes_read_from_strings_and_numbers() {
        let read = |yaml: &str| crate::yaml::from_str::<ByteSize>(yaml);
        assert_eq!(read("15Gi").unwrap(), ByteSize(15 * GIB));
        assert_eq!(read("1024").unwrap(), ByteSize(1024));
        assert!(read("0").is_err());
        assert!(read("-5").is_err());
        assert!(read("15GB").is_err());
    }
}

/// A size in bytes, written in files as a binary-suffixed quantity (`15Gi`) or plain bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl std::str::FromStr for ByteSize {
    type Err = crate::error::base::ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_quantity(s).map(ByteSize)
    }
}

impl serde::Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&quantity(self.0))
    }
}

impl<'de> serde::Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str_or_number(d, "a size such as 15Gi or 512Mi, or a number of bytes")
    }
}

/// Deserializes a size in bytes written as a number or a quantity (`79.18Gi`, `81G`).
pub(crate) fn bytes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    use serde::Deserialize;
    ByteSize::deserialize(d).map(|b| b.0)
}

/// [`bytes`] for an optional field.
pub(crate) fn option_bytes<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<u64>, D::Error> {
    use serde::Deserialize;
    Option::<ByteSize>::deserialize(d).map(|b| b.map(|b| b.0))
}

/// Deserializes a value a file may write as a string or as a whole number (`15Gi` or
/// `16106127360`, `auto` or `4096`) through the type's own `FromStr`, so both spellings are
/// checked by the same code.
pub(crate) fn from_str_or_number<'de, D, T>(d: D, expecting: &'static str) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    struct Visitor<T>(&'static str, std::marker::PhantomData<T>);
    impl<T: std::str::FromStr> serde::de::Visitor<'_> for Visitor<T>
    where
        T::Err: std::fmt::Display,
    {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
            v.to_string().parse().map_err(E::custom)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
            v.to_string().parse().map_err(E::custom)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
            v.parse().map_err(E::custom)
        }
    }
    d.deserialize_any(Visitor(expecting, std::marker::PhantomData))
}

impl schemars::JsonSchema for ByteSize {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ByteSize".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A size: a Kubernetes quantity such as 15Gi, 512Mi or 16G, or bytes",
            "oneOf": [
                {"type": "string", "pattern": "^[0-9]*\\.?[0-9]+([kMGTPE]|[KMGTPE]i)?$"},
                {"type": "integer", "minimum": 1}
            ]
        })
    }
}
