//! A restricted pickle reader for `data.pkl` of `torch.save` archives. It executes nothing: it
//! interprets the opcodes a state_dict uses and resolves only an allow-list of globals (tensor
//! rebuild functions, `collections.OrderedDict`, storage and dtype names), applying them itself;
//! any other global is an error naming it. Lists and dicts live in an arena (indices, no
//! reference counting, so hostile cycles cannot leak), tuples are nested at most
//! [`MAX_DEPTH`] deep, memo indices are keys of a map (no table sized by the file).

use std::collections::HashMap;
use std::rc::Rc;

/// Deepest tuple nesting accepted (a state_dict needs 3).
pub(crate) const MAX_DEPTH: usize = 64;

/// Element types of torch storages (the `torch.*Storage` globals and `torch.*` dtypes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dtype {
    F32,
    F64,
    F16,
    BF16,
    C64,
    C128,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl Dtype {
    /// Bytes per element.
    pub(crate) fn size(self) -> usize {
        match self {
            Dtype::F64 | Dtype::I64 | Dtype::C64 => 8,
            Dtype::C128 => 16,
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F16 | Dtype::BF16 | Dtype::I16 => 2,
            Dtype::I8 | Dtype::U8 | Dtype::Bool => 1,
        }
    }

    /// The torch name of the dtype (`float32`, ...).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
            Dtype::F16 => "float16",
            Dtype::BF16 => "bfloat16",
            Dtype::C64 => "complex64",
            Dtype::C128 => "complex128",
            Dtype::I64 => "int64",
            Dtype::I32 => "int32",
            Dtype::I16 => "int16",
            Dtype::I8 => "int8",
            Dtype::U8 => "uint8",
            Dtype::Bool => "bool",
        }
    }

    fn of_storage(name: &str) -> Option<Dtype> {
        Some(match name {
            "FloatStorage" => Dtype::F32,
            "DoubleStorage" => Dtype::F64,
            "HalfStorage" => Dtype::F16,
            "BFloat16Storage" => Dtype::BF16,
            "ComplexFloatStorage" => Dtype::C64,
            "ComplexDoubleStorage" => Dtype::C128,
            "LongStorage" => Dtype::I64,
            "IntStorage" => Dtype::I32,
            "ShortStorage" => Dtype::I16,
            "CharStorage" => Dtype::I8,
            "ByteStorage" => Dtype::U8,
            "BoolStorage" => Dtype::Bool,
            _ => return None,
        })
    }

    fn of_dtype(name: &str) -> Option<Dtype> {
        Some(match name {
            "float32" | "float" => Dtype::F32,
            "float64" | "double" => Dtype::F64,
            "float16" | "half" => Dtype::F16,
            "bfloat16" => Dtype::BF16,
            "complex64" | "cfloat" => Dtype::C64,
            "complex128" | "cdouble" => Dtype::C128,
            "int64" | "long" => Dtype::I64,
            "int32" | "int" => Dtype::I32,
            "int16" | "short" => Dtype::I16,
            "int8" => Dtype::I8,
            "uint8" => Dtype::U8,
            "bool" => Dtype::Bool,
            _ => return None,
        })
    }
}

/// The allow-listed globals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Global {
    RebuildTensorV2,
    RebuildParameter,
    RebuildParameterWithState,
    RebuildFromTypeV2,
    OrderedDict,
    /// `torch.Tensor` or `torch.nn.parameter.Parameter` as the type argument of
    /// `_rebuild_from_type_v2`.
    TensorType,
    /// A `torch.*Storage` type.
    Storage(Dtype),
    /// A `torch.float32`-style dtype.
    Dtype(Dtype),
}

fn resolve(module: &str, name: &str) -> Result<Global, String> {
    Ok(match (module, name) {
        ("torch._utils", "_rebuild_tensor_v2") => Global::RebuildTensorV2,
        ("torch._utils", "_rebuild_parameter") => Global::RebuildParameter,
        ("torch._utils", "_rebuild_parameter_with_state") => Global::RebuildParameterWithState,
        ("torch._tensor", "_rebuild_from_type_v2") => Global::RebuildFromTypeV2,
        ("collections", "OrderedDict") => Global::OrderedDict,
        ("torch", "Tensor") | ("torch.nn.parameter", "Parameter") => Global::TensorType,
        ("torch", n) if Dtype::of_storage(n).is_some() => Global::Storage(Dtype::of_storage(n).expect("checked")),
        ("torch", n) if Dtype::of_dtype(n).is_some() => Global::Dtype(Dtype::of_dtype(n).expect("checked")),
        _ => {
            return Err(format!(
                "the pickle names the global `{module}.{name}`, which is not on the allow-list of a state_dict \
                 (tensor rebuild functions, collections.OrderedDict, torch storage and dtype types); refusing it \
                 (nothing is executed)"
            ))
        }
    })
}

/// A storage named by a persistent id: `('storage', torch.FloatStorage, key, location, numel)`.
#[derive(Debug, PartialEq)]
pub(crate) struct Storage {
    pub(crate) dtype: Dtype,
    /// The entry name under `<archive>/data/`.
    pub(crate) key: String,
    /// Elements the storage claims to hold.
    pub(crate) numel: u64,
}

/// A tensor: a strided view of a storage.
#[derive(Debug, PartialEq)]
pub(crate) struct TensorRef {
    pub(crate) storage: Rc<Storage>,
    pub(crate) offset: u64,
    pub(crate) size: Vec<u64>,
    pub(crate) stride: Vec<u64>,
}

/// A tuple and its nesting depth.
#[derive(Debug)]
pub(crate) struct Tuple {
    pub(crate) items: Vec<Value>,
    depth: usize,
}

/// A pickled value.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    None,
    /// A bool (its value is never needed).
    Bool,
    Int(i64),
    /// A float (its value is never needed).
    Float,
    Str(Rc<str>),
    /// Bytes (their value is never needed).
    Bytes,
    Tuple(Rc<Tuple>),
    /// Index into [`Pickle::lists`].
    List(usize),
    /// Index into [`Pickle::dicts`].
    Dict(usize),
    Global(Global),
    Storage(Rc<Storage>),
    Tensor(Rc<TensorRef>),
}

impl Value {
    /// What kind of value this is, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool => "a bool",
            Value::Int(_) => "an int",
            Value::Float => "a float",
            Value::Str(_) => "a string",
            Value::Bytes => "bytes",
            Value::Tuple(_) => "a tuple",
            Value::List(_) => "a list",
            Value::Dict(_) => "a dict",
            Value::Global(_) => "a global",
            Value::Storage(_) => "a storage",
            Value::Tensor(_) => "a tensor",
        }
    }

    fn depth(&self) -> usize {
        match self {
            Value::Tuple(t) => t.depth,
            _ => 0,
        }
    }
}

/// The unpickled object and the arena of its lists and dicts.
#[derive(Debug, Default)]
pub(crate) struct Pickle {
    pub(crate) root: Option<Value>,
    pub(crate) lists: Vec<Vec<Value>>,
    pub(crate) dicts: Vec<Vec<(Value, Value)>>,
}

struct Machine<'a> {
    bytes: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    out: Pickle,
}

fn tuple(items: Vec<Value>) -> Result<Value, String> {
    let depth = 1 + items.iter().map(Value::depth).max().unwrap_or(0);
    if depth > MAX_DEPTH {
        return Err(format!("tuples nested more than {MAX_DEPTH} deep"));
    }
    Ok(Value::Tuple(Rc::new(Tuple { items, depth })))
}

fn int(v: &Value, what: &str) -> Result<u64, String> {
    match v {
        Value::Int(i) => u64::try_from(*i).map_err(|_| format!("{what} is negative ({i})")),
        other => Err(format!("{what} is {}, expected an int", other.kind())),
    }
}

fn ints(v: &Value, what: &str) -> Result<Vec<u64>, String> {
    match v {
        Value::Tuple(t) => t.items.iter().map(|x| int(x, what)).collect(),
        other => Err(format!("{what} is {}, expected a tuple of ints", other.kind())),
    }
}

impl<'a> Machine<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| {
            format!("truncated pickle: needs {n} more bytes at byte {} of {}", self.pos, self.bytes.len())
        })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn uint(&mut self, n: usize) -> Result<u64, String> {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(self.take(n)?);
        Ok(u64::from_le_bytes(b))
    }
    fn len(&mut self, n: usize) -> Result<usize, String> {
        let v = self.uint(n)?;
        usize::try_from(v).map_err(|_| format!("pickle length {v} does not fit the address space"))
    }
    fn line(&mut self) -> Result<&'a str, String> {
        let rest = &self.bytes[self.pos..];
        let end = rest.iter().position(|&b| b == b'\n').ok_or("truncated pickle: a global name has no newline")?;
        self.pos += end + 1;
        std::str::from_utf8(&rest[..end]).map_err(|_| "a global name is not UTF-8".to_string())
    }
    fn pop(&mut self) -> Result<Value, String> {
        self.stack.pop().ok_or_else(|| format!("corrupt pickle: stack underflow at byte {}", self.pos))
    }
    fn top(&mut self) -> Result<&mut Value, String> {
        let pos = self.pos;
        self.stack.last_mut().ok_or_else(|| format!("corrupt pickle: empty stack at byte {pos}"))
    }
    fn pop_mark(&mut self) -> Result<Vec<Value>, String> {
        let mark = self.marks.pop().ok_or_else(|| format!("corrupt pickle: no mark at byte {}", self.pos))?;
        if mark > self.stack.len() {
            return Err(format!("corrupt pickle: mark above the stack at byte {}", self.pos));
        }
        Ok(self.stack.split_off(mark))
    }
    fn string(&mut self, n: usize) -> Result<Value, String> {
        let s = self.take(n)?;
        let s =
            std::str::from_utf8(s).map_err(|_| format!("a pickled string before byte {} is not UTF-8", self.pos))?;
        Ok(Value::Str(s.into()))
    }
    fn list_of(&mut self, v: &Value, op: &str) -> Result<usize, String> {
        match v {
            Value::List(i) => Ok(*i),
            other => Err(format!("corrupt pickle: {op} on {} at byte {}", other.kind(), self.pos)),
        }
    }
    fn set_items(&mut self, items: Vec<Value>) -> Result<(), String> {
        if !items.len().is_multiple_of(2) {
            return Err(format!("corrupt pickle: odd number of dict items at byte {}", self.pos));
        }
        let d = match self.top()? {
            Value::Dict(d) => *d,
            other => return Err(format!("corrupt pickle: dict items set on {}", other.kind())),
        };
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            let entries = &mut self.out.dicts[d];
            match entries.iter_mut().find(|(old, _)| same_key(old, &k)) {
                Some(slot) => slot.1 = v,
                None => entries.push((k, v)),
            }
        }
        Ok(())
    }
    fn new_dict(&mut self, items: Vec<(Value, Value)>) -> Value {
        self.out.dicts.push(items);
        Value::Dict(self.out.dicts.len() - 1)
    }

    /// Applies an allow-listed callable to its arguments.
    fn call(&mut self, f: Global, args: &[Value]) -> Result<Value, String> {
        match (f, args) {
            (Global::OrderedDict, []) => Ok(self.new_dict(Vec::new())),
            (Global::RebuildTensorV2, [storage, offset, size, stride, _grad, _hooks, ..]) if args.len() <= 7 => {
                let storage = match storage {
                    Value::Storage(s) => s.clone(),
                    other => return Err(format!("_rebuild_tensor_v2 got {} instead of a storage", other.kind())),
                };
                let (size, stride) = (ints(size, "a tensor size")?, ints(stride, "a tensor stride")?);
                if size.len() != stride.len() {
                    return Err(format!("a tensor has {} sizes but {} strides", size.len(), stride.len()));
                }
                let offset = int(offset, "a storage offset")?;
                Ok(Value::Tensor(Rc::new(TensorRef { storage, offset, size, stride })))
            }
            (Global::RebuildParameter, [t @ Value::Tensor(_), _, _])
            | (Global::RebuildParameterWithState, [t @ Value::Tensor(_), _, _, _]) => Ok(t.clone()),
            (
                Global::RebuildFromTypeV2,
                [Value::Global(func), Value::Global(Global::TensorType), Value::Tuple(a), _],
            ) if matches!(func, Global::RebuildTensorV2 | Global::RebuildParameter) => {
                let a = a.clone();
                self.call(*func, &a.items)
            }
            (f, args) => Err(format!("unexpected call of {f:?} with {} arguments", args.len())),
        }
    }

    fn step(&mut self, op: u8) -> Result<bool, String> {
        match op {
            0x80 => {
                let proto = self.uint(1)?;
                if proto > 5 {
                    return Err(format!("pickle protocol {proto} is newer than 5"));
                }
            }
            0x95 => {
                self.uint(8)?; // FRAME: its length only helps buffering
            }
            b'.' => return Ok(false),
            b'(' => self.marks.push(self.stack.len()),
            b'0' => {
                self.pop()?;
            }
            b'1' => {
                self.pop_mark()?;
            }
            b'2' => {
                let v = self.top()?.clone();
                self.stack.push(v);
            }
            b'N' => self.stack.push(Value::None),
            0x88 | 0x89 => self.stack.push(Value::Bool),
            b'J' => {
                let v = self.uint(4)? as u32 as i32;
                self.stack.push(Value::Int(v.into()))
            }
            b'K' => {
                let v = self.uint(1)?;
                self.stack.push(Value::Int(v as i64))
            }
            b'M' => {
                let v = self.uint(2)?;
                self.stack.push(Value::Int(v as i64))
            }
            0x8a | 0x8b => {
                let n = if op == 0x8a { self.len(1)? } else { self.len(4)? };
                if n > 8 {
                    return Err(format!("a pickled integer of {n} bytes is larger than 64 bits"));
                }
                let b = self.take(n)?;
                let mut full = if b.last().is_some_and(|&x| x & 0x80 != 0) { [0xffu8; 8] } else { [0u8; 8] };
                full[..n].copy_from_slice(b);
                self.stack.push(Value::Int(i64::from_le_bytes(full)))
            }
            b'G' => {
                self.take(8)?;
                self.stack.push(Value::Float)
            }
            b'X' | 0x8c | 0x8d | b'U' | b'T' => {
                let n = match op {
                    0x8c | b'U' => self.len(1)?,
                    0x8d => self.len(8)?,
                    _ => self.len(4)?,
                };
                let v = self.string(n)?;
                self.stack.push(v)
            }
            b'B' | b'C' | 0x8e => {
                let n = match op {
                    b'C' => self.len(1)?,
                    0x8e => self.len(8)?,
                    _ => self.len(4)?,
                };
                self.take(n)?;
                self.stack.push(Value::Bytes)
            }
            b')' => self.stack.push(tuple(Vec::new())?),
            b't' => {
                let items = self.pop_mark()?;
                self.stack.push(tuple(items)?)
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                if self.stack.len() < n {
                    return Err(format!("corrupt pickle: stack underflow at byte {}", self.pos));
                }
                let items = self.stack.split_off(self.stack.len() - n);
                self.stack.push(tuple(items)?)
            }
            b']' | b'l' => {
                let items = if op == b'l' { self.pop_mark()? } else { Vec::new() };
                self.out.lists.push(items);
                self.stack.push(Value::List(self.out.lists.len() - 1))
            }
            b'a' => {
                let v = self.pop()?;
                let top = self.top()?.clone();
                let l = self.list_of(&top, "append")?;
                self.out.lists[l].push(v)
            }
            b'e' => {
                let items = self.pop_mark()?;
                let top = self.top()?.clone();
                let l = self.list_of(&top, "appends")?;
                self.out.lists[l].extend(items)
            }
            b'}' => {
                let d = self.new_dict(Vec::new());
                self.stack.push(d)
            }
            b'd' => {
                let items = self.pop_mark()?;
                let d = self.new_dict(Vec::new());
                self.stack.push(d);
                self.set_items(items)?
            }
            b's' => {
                let v = self.pop()?;
                let k = self.pop()?;
                self.set_items(vec![k, v])?
            }
            b'u' => {
                let items = self.pop_mark()?;
                self.set_items(items)?
            }
            b'c' => {
                let module = self.line()?;
                let name = self.line()?;
                self.stack.push(Value::Global(resolve(module, name)?))
            }
            0x93 => {
                let (name, module) = (self.pop()?, self.pop()?);
                match (module, name) {
                    (Value::Str(m), Value::Str(n)) => self.stack.push(Value::Global(resolve(&m, &n)?)),
                    _ => return Err("corrupt pickle: STACK_GLOBAL needs two strings".into()),
                }
            }
            b'R' => {
                let args = self.pop()?;
                let f = self.pop()?;
                let v = match (f, args) {
                    (Value::Global(f), Value::Tuple(a)) => self.call(f, &a.items)?,
                    (f, a) => return Err(format!("corrupt pickle: call of {} with {}", f.kind(), a.kind())),
                };
                self.stack.push(v)
            }
            b'b' => {
                let _state = self.pop()?; // OrderedDict's `_metadata`, a Parameter's attributes: not needed
                if !matches!(self.top()?, Value::Dict(_) | Value::Tensor(_)) {
                    return Err(format!(
                        "the pickle sets the state of {}, which a state_dict never does",
                        self.top()?.kind()
                    ));
                }
            }
            b'Q' => {
                let pid = self.pop()?;
                let v = persistent(&pid)?;
                self.stack.push(v)
            }
            b'h' | b'j' => {
                let i = self.uint(if op == b'h' { 1 } else { 4 })? as u32;
                let v = self.memo.get(&i).cloned().ok_or_else(|| format!("corrupt pickle: memo {i} is unset"))?;
                self.stack.push(v)
            }
            b'q' | b'r' => {
                let i = self.uint(if op == b'q' { 1 } else { 4 })? as u32;
                let v = self.top()?.clone();
                self.memo.insert(i, v);
            }
            0x94 => {
                let i = u32::try_from(self.memo.len()).map_err(|_| "memo overflow")?;
                let v = self.top()?.clone();
                self.memo.insert(i, v);
            }
            other => {
                return Err(format!(
                    "unsupported pickle opcode 0x{other:02x} at byte {} (a state_dict needs none of it)",
                    self.pos - 1
                ))
            }
        }
        Ok(true)
    }
}

/// Two dict keys are the same when both are equal strings or equal ints.
fn same_key(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        _ => false,
    }
}

/// Resolves a persistent id `('storage', torch.XStorage, key, location, numel)`.
fn persistent(pid: &Value) -> Result<Value, String> {
    let items = match pid {
        Value::Tuple(t) => &t.items,
        other => return Err(format!("a persistent id is {}, expected a tuple", other.kind())),
    };
    match items.as_slice() {
        [Value::Str(tag), Value::Global(Global::Storage(dtype) | Global::Dtype(dtype)), Value::Str(key), _, numel]
            if &**tag == "storage" =>
        {
            Ok(Value::Storage(Rc::new(Storage {
                dtype: *dtype,
                key: key.to_string(),
                numel: int(numel, "a storage's element count")?,
            })))
        }
        _ => Err("a persistent id is not ('storage', <storage type>, key, location, numel)".into()),
    }
}

/// Runs the pickle program in `bytes` up to its STOP opcode.
pub(crate) fn load(bytes: &[u8]) -> Result<Pickle, String> {
    let mut m =
        Machine { bytes, pos: 0, stack: Vec::new(), marks: Vec::new(), memo: HashMap::new(), out: Pickle::default() };
    loop {
        let op = *m.bytes.get(m.pos).ok_or("truncated pickle: no STOP opcode")?;
        m.pos += 1;
        if !m.step(op)? {
            break;
        }
    }
    let root = m.pop()?;
    m.out.root = Some(root);
    Ok(m.out)
}

#[cfg(test)]
#[path = "pickle_tests.rs"]
mod tests;
