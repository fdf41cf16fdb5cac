//! Rules for names users choose: workers and queues appear in URLs and
//! hostnames, Durable Object classes in storage paths.

/// Worker names appear in URLs and hostnames: 1-63 characters of a-z, 0-9,
/// '-' and '_'.
pub fn validate_worker_name(name: &str) -> Result<(), &'static str> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err("must be 1-63 characters of a-z, 0-9, '-' and '_'")
    }
}

/// Queue names appear in URLs of the admin API: the same rule as worker
/// names (Cloudflare's: lower case letters, digits and dashes).
pub fn validate_queue_name(name: &str) -> Result<(), &'static str> {
    validate_worker_name(name)
}

/// Durable Object class names are the names of exported JavaScript
/// classes: ASCII letters, digits, `_` and `$`, not starting with a digit
/// (which also keeps them path-safe where objects are stored).
pub fn is_class_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_names() {
        assert!(validate_worker_name("hello-world_2").is_ok());
        for bad in ["", "Hello", "a.b", "a b", &"x".repeat(64)] {
            assert!(validate_worker_name(bad).is_err(), "{bad:?}");
        }
    }
}
