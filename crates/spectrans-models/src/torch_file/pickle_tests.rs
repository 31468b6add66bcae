//! Unit tests of the restricted pickle reader.

use super::*;

fn root(bytes: &[u8]) -> Result<(Value, Pickle), String> {
    let p = load(bytes)?;
    Ok((p.root.clone().expect("a root"), p))
}

#[test]
fn reads_scalars_strings_tuples_and_memo() {
    // protocol 2: (1, -2, 300, "ab", True, None, 2**40) memoised and fetched back
    let mut b = vec![0x80, 2, b'(', b'K', 1, b'J'];
    b.extend_from_slice(&(-2i32).to_le_bytes());
    b.extend_from_slice(&[b'M', 0x2c, 0x01, b'X', 2, 0, 0, 0, b'a', b'b', 0x88, b'N', 0x8a, 6, 0, 0, 0, 0, 0, 1]);
    b.extend_from_slice(&[b't', b'q', 7, b'0', b'h', 7, b'.']);
    let (v, _) = root(&b).unwrap();
    let Value::Tuple(t) = v else { panic!("{v:?}") };
    assert!(matches!(t.items[0], Value::Int(1)));
    assert!(matches!(t.items[1], Value::Int(-2)));
    assert!(matches!(t.items[2], Value::Int(300)));
    assert!(matches!(&t.items[3], Value::Str(s) if &**s == "ab"));
    assert!(matches!(t.items[4], Value::Bool));
    assert!(matches!(t.items[5], Value::None));
    assert!(matches!(t.items[6], Value::Int(x) if x == 1 << 40));
}

#[test]
fn negative_long1_and_ordered_dict_items() {
    let mut b = b"\x80\x02ccollections\nOrderedDict\n)R(X\x01\x00\x00\x00k\x8a\x01\xffu".to_vec();
    b.extend_from_slice(b"}b.");
    let (v, p) = root(&b).unwrap();
    let Value::Dict(d) = v else { panic!("{v:?}") };
    assert!(matches!(p.dicts[d].as_slice(), [(Value::Str(k), Value::Int(-1))] if &**k == "k"));
}

#[test]
fn refuses_globals_off_the_allow_list_by_name() {
    for (module, name) in
        [("os", "system"), ("builtins", "eval"), ("torch", "load"), ("numpy.core.multiarray", "_reconstruct")]
    {
        let b = format!("\x63{module}\n{name}\n.");
        let e = load(b.as_bytes()).unwrap_err();
        assert!(e.contains(&format!("`{module}.{name}`")) && e.contains("nothing is executed"), "{e}");
    }
    let e = load(b"\x80\x04\x8c\x02os\x8c\x06system\x93.").unwrap_err();
    assert!(e.contains("`os.system`"), "{e}");
}

#[test]
fn malformed_programs_are_errors() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "no STOP"),
        (b"\x80\x02", "no STOP"),
        (b"\x80\x09.", "protocol 9"),
        (b"0.", "underflow"),
        (b"t.", "no mark"),
        (b"X\xff\xff\xff\xff", "truncated pickle"),
        (b"\x8d\xff\xff\xff\xff\xff\xff\xff\xff", "truncated pickle"),
        (b"h\x05.", "memo 5 is unset"),
        (b"K\x00K\x01a.", "append on an int"),
        (b"K\x01a.", "empty stack"),
        (b"K\x00(K\x01K\x02u.", "dict items set on an int"),
        (b"}(K\x01u.", "odd number"),
        (b"\x8b\x10\x00\x00\x00", "larger than 64 bits"),
        (b"K\x01K\x02R.", "call of an int"),
        (b"\x81.", "unsupported pickle opcode 0x81"),
        (b"ctorch\nFloatStorage\n)R.", "unexpected call"),
        (b"(X\x01\x00\x00\x00aK\x01K\x02K\x03K\x04tQ.", "persistent id"),
        (b"K\x01K\x02b.", "sets the state of an int"),
    ];
    for (bytes, want) in cases {
        let e = load(bytes).unwrap_err();
        assert!(e.contains(want), "{bytes:?}: {e}");
    }
}

#[test]
fn deep_tuple_nesting_is_refused_before_it_can_overflow_the_stack() {
    let mut b = vec![b')'];
    b.extend(std::iter::repeat_n(0x85u8, 100_000));
    b.push(b'.');
    assert!(load(&b).unwrap_err().contains("nested more than"));
}

#[test]
fn lists_appended_to_themselves_do_not_recurse() {
    // l = []; l.append(l); l.append(l)
    let b = b"]q\x00h\x00ah\x00a.";
    let (v, p) = root(b).unwrap();
    let Value::List(l) = v else { panic!() };
    assert_eq!(p.lists[l].len(), 2);
}
