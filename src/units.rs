//! Byte sizes at the edges: GiB for people, Kubernetes quantities for manifests.

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// `bytes` as GiB with two decimals, e.g. `79.18 GiB`.
pub fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / GIB as f64)
}

/// `bytes` as a Kubernetes quantity: whole `Gi` when exact, else `Mi` rounded up.
pub fn quantity(bytes: u64) -> String {
    if bytes.is_multiple_of(GIB) {
        format!("{}Gi", bytes / GIB)
    } else {
        format!("{}Mi", bytes.div_ceil(MIB))
    }
}

/// Parses a binary-suffixed quantity (`15Gi`, `512Mi`, `1Ti`) or plain bytes.
pub fn parse_quantity(text: &str) -> Result<u64, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let scale: u64 = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => MIB,
        "Gi" => GIB,
        "Ti" => 1 << 40,
        _ => {
            return Err(format!(
                "`{text}`: expected a whole number with a binary suffix (Ki, Mi, Gi, Ti), e.g. 15Gi"
            ));
        }
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}`: expected a whole number before the suffix, e.g. 15Gi"))?;
    n.checked_mul(scale)
        .filter(|&b| b > 0)
        .ok_or_else(|| format!("`{text}`: must be between 1 byte and 16 EiB"))
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
        assert!(parse_quantity("15GB").is_err());
        assert!(parse_quantity("0Gi").is_err());
        assert!(parse_quantity("99999999999999999999Ti").is_err());
        assert_eq!(gib(85_018_877_624), "79.18 GiB");
    }

    /// A file may write a size as a quantity or as bytes; both go through `parse_quantity`.
    #[test]
    fn sizes_read_from_strings_and_numbers() {
        let read = |yaml: &str| crate::yaml::from_str::<ByteSize>(yaml);
        assert_eq!(read("15Gi"), Ok(ByteSize(15 * GIB)));
        assert_eq!(read("1024"), Ok(ByteSize(1024)));
        assert!(read("0").is_err());
        assert!(read("-5").is_err());
        assert!(read("15GB").is_err());
    }
}

/// A size in bytes, written in files as a binary-suffixed quantity (`15Gi`) or plain bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl std::str::FromStr for ByteSize {
    type Err = String;
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

/// Deserializes a value a file may write as a string or as a whole number (`15Gi` or
/// `16106127360`, `auto` or `4096`) through the type's own `FromStr`, so both spellings are
/// checked by the same code.
pub(crate) fn from_str_or_number<'de, D, T>(d: D, expecting: &'static str) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr<Err = String>,
{
    struct Visitor<T>(&'static str, std::marker::PhantomData<T>);
    impl<T: std::str::FromStr<Err = String>> serde::de::Visitor<'_> for Visitor<T> {
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
            "description": "A size: a whole number with a binary suffix (Ki, Mi, Gi, Ti), e.g. 15Gi, or bytes",
            "oneOf": [
                {"type": "string", "pattern": "^[0-9]+(Ki|Mi|Gi|Ti)?$"},
                {"type": "integer", "minimum": 1}
            ]
        })
    }
}
