//! [`Data`]: a JSON-shaped value kept compactly, for the objects a large environment holds by the
//! thousand until every proof has read them.
//!
//! A `serde_json::Value` mapping is a hash map: each one carries its own table and hasher, each
//! entry an owned key, and each value is 80 bytes. A generated object is dozens of small mappings
//! (selectors, ports, probes), so as values the objects took several times the size of their YAML.
//! `Data` holds a mapping as one slice of entries in their order, its keys borrowed from the
//! type's field names where serde gives them (`&'static str`), and every node in 24 bytes.
//! A small mapping or sequence built again on the same thread is not held again: the labels,
//! selectors, ports, probes and security contexts every workload repeats are shared (at most 16
//! values each), which at 1,000 services holds the objects in 19 MB instead of 30 MB.
//! [`to_data`] builds it straight from a `Serialize` type with the same shape
//! `serde_json::to_value` gives (the same order, numbers, nulls and duplicate keys); it reads
//! like a value (`data["spec"]["replicas"]`), typed structs deserialize from it
//! as they would from a value, and [`Data::to_json`] makes the value where one is needed.
//! [`to_exact_data`] builds the other YAML documents, refusing what it would hold otherwise than
//! the YAML serializer (then the document goes through the serializer).

use serde::de::value::{BorrowedStrDeserializer, MapAccessDeserializer, MapDeserializer};
use serde::de::{IntoDeserializer, Visitor};
use serde::ser::{self, Serialize};
use serde_json::{Error, Number, Value};
use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;

/// A JSON-shaped value: what an object of the environment is, as data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Data {
    Null,
    Bool(bool),
    Number(Number),
    String(Box<str>),
    Seq(Arc<[Data]>),
    /// Entries in their order; keys are unique.
    Map(Arc<[(Key, Data)]>),
}

/// A mapping key: a type's field name as it is, any other key owned.
pub type Key = Cow<'static, str>;

/// What indexing finds where there is nothing.
static NULL: Data = Data::Null;

/// `value` as [`Data`]: the same shape `serde_json::to_value` gives it.
///
/// # Errors
/// What `serde_json::to_value` refuses: a mapping key that is no string, a number JSON cannot
/// hold, or the value's own serialization error.
pub fn to_data<T: Serialize + ?Sized>(value: &T) -> Result<Data, Error> {
    value.serialize(Builder::<false>)
}

/// [`to_data`] for a value the YAML serializer would write as it is: it refuses what JSON's
/// shape would change rather than change it (a mapping key that is no string, a float that is not
/// finite) and what YAML writes as a tag (an enum variant that carries a value, a key starting with
/// `!`), so that the caller takes the serializer's path for such a value instead.
///
/// # Errors
/// As [`to_data`], and for what it refuses.
pub fn to_exact_data<T: Serialize + ?Sized>(value: &T) -> Result<Data, Error> {
    value.serialize(Builder::<true>)
}

/// What [`to_exact_data`] refuses.
fn inexact() -> Error {
    <Error as ser::Error>::custom("not held the same as JSON")
}

impl Data {
    /// The string this is, if it is one.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The items of a sequence.
    #[must_use]
    pub fn as_array(&self) -> Option<&[Self]> {
        match self {
            Self::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The entries of a mapping, in their order.
    #[must_use]
    pub fn as_object(&self) -> Option<&[(Key, Self)]> {
        match self {
            Self::Map(entries) => Some(entries),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Self::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// The value of `key` in a mapping.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Self> {
        self.as_object()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The same value as a `serde_json::Value`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Number(n) => Value::Number(n.clone()),
            Self::String(s) => Value::String(s.to_string()),
            Self::Seq(items) => Value::Array(items.iter().map(Self::to_json).collect()),
            Self::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

impl std::ops::Index<&str> for Data {
    type Output = Self;

    /// The value of `key`, or null when this is no mapping or has no such key.
    fn index(&self, key: &str) -> &Self {
        self.get(key).unwrap_or(&NULL)
    }
}

impl std::ops::Index<usize> for Data {
    type Output = Self;

    /// The item at `i`, or null when this is no sequence or is shorter.
    fn index(&self, i: usize) -> &Self {
        self.as_array().and_then(|a| a.get(i)).unwrap_or(&NULL)
    }
}

impl PartialEq<str> for Data {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Data {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<u64> for Data {
    fn eq(&self, other: &u64) -> bool {
        self.as_u64() == Some(*other)
    }
}

impl std::fmt::Display for Data {
    /// The value as compact JSON, as a `serde_json::Value` displays.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&serde_json::to_string(self).map_err(|_| std::fmt::Error)?)
    }
}

impl Serialize for Data {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Null => s.serialize_unit(),
            Self::Bool(b) => s.serialize_bool(*b),
            Self::Number(n) => n.serialize(s),
            Self::String(v) => s.serialize_str(v),
            Self::Seq(items) => s.collect_seq(items.iter()),
            Self::Map(entries) => s.collect_map(entries.iter().map(|(k, v)| (k.as_ref(), v))),
        }
    }
}

/// Builds [`Data`] from serde's calls, as `serde_json`'s value serializer builds a value; with
/// `EXACT`, refusing what [`to_exact_data`] refuses.
struct Builder<const EXACT: bool>;

/// A sequence being built.
struct Items<const EXACT: bool>(Vec<Data>);

/// A mapping being built, with the key whose value comes next.
struct Entries<const EXACT: bool> {
    list: Vec<(Key, Data)>,
    key: Option<Key>,
    /// Keys given one by one may repeat (a struct's fields cannot).
    checked: bool,
}

/// `{variant: [items]}` or `{variant: {entries}}`, being built.
struct Variant<T> {
    name: &'static str,
    inner: T,
}

fn number(v: impl Into<Number>) -> Data {
    Data::Number(v.into())
}

/// A key written as text.
#[allow(clippy::needless_pass_by_value)]
fn written(v: impl ToString) -> String {
    v.to_string()
}

/// The serializer methods named, each making its value into the output with `make`.
macro_rules! made_by {
    ($out:ty, $make:ident: $($method:ident($t:ty)),* $(,)?) => {
        $(
            fn $method(self, v: $t) -> Result<$out, Error> {
                Ok($make(v))
            }
        )*
    };
    ($out:ty, try $make:path: $($method:ident($t:ty)),* $(,)?) => {
        $(
            fn $method(self, v: $t) -> Result<$out, Error> {
                $make(v)
            }
        )*
    };
}

/// A float as `serde_json` holds one: a number, or null when it is not finite.
fn float(v: Value) -> Data {
    match v {
        Value::Number(n) => Data::Number(n),
        _ => Data::Null,
    }
}

fn single(name: &'static str, value: Data) -> Data {
    shared(Built::Map(vec![(Cow::Borrowed(name), value)]))
}

impl<const EXACT: bool> ser::Serializer for Builder<EXACT> {
    type Ok = Data;
    type Error = Error;
    type SerializeSeq = Items<EXACT>;
    type SerializeTuple = Items<EXACT>;
    type SerializeTupleStruct = Items<EXACT>;
    type SerializeTupleVariant = Variant<Items<EXACT>>;
    type SerializeMap = Entries<EXACT>;
    type SerializeStruct = Entries<EXACT>;
    type SerializeStructVariant = Variant<Entries<EXACT>>;

    fn serialize_bool(self, v: bool) -> Result<Data, Error> {
        Ok(Data::Bool(v))
    }
    made_by! { Data, number:
        serialize_i8(i8), serialize_i16(i16), serialize_i32(i32), serialize_i64(i64),
        serialize_u8(u8), serialize_u16(u16), serialize_u32(u32), serialize_u64(u64),
    }

    fn serialize_i128(self, v: i128) -> Result<Data, Error> {
        ser::Serializer::serialize_i128(serde_json::value::Serializer, v).map(float)
    }
    fn serialize_u128(self, v: u128) -> Result<Data, Error> {
        ser::Serializer::serialize_u128(serde_json::value::Serializer, v).map(float)
    }
    fn serialize_f32(self, v: f32) -> Result<Data, Error> {
        if EXACT && !v.is_finite() {
            return Err(inexact());
        }
        Ok(float(Value::from(v)))
    }
    fn serialize_f64(self, v: f64) -> Result<Data, Error> {
        if EXACT && !v.is_finite() {
            return Err(inexact());
        }
        Ok(float(Value::from(v)))
    }
    fn serialize_char(self, v: char) -> Result<Data, Error> {
        Ok(Data::String(v.to_string().into()))
    }
    fn serialize_str(self, v: &str) -> Result<Data, Error> {
        Ok(Data::String(v.into()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Data, Error> {
        Ok(Data::Seq(v.iter().map(|b| number(*b)).collect()))
    }
    fn serialize_none(self) -> Result<Data, Error> {
        Ok(Data::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Data, Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Data, Error> {
        Ok(Data::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Data, Error> {
        Ok(Data::Null)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        v: &'static str,
    ) -> Result<Data, Error> {
        Ok(Data::String(v.into()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<Data, Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<Data, Error> {
        if EXACT {
            return Err(inexact());
        }
        Ok(single(variant, v.serialize(self)?))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Items<EXACT>, Error> {
        Ok(Items(Vec::with_capacity(len.unwrap_or(0))))
    }
    fn serialize_tuple(self, len: usize) -> Result<Items<EXACT>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Items<EXACT>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        name: &'static str,
        len: usize,
    ) -> Result<Variant<Items<EXACT>>, Error> {
        if EXACT {
            return Err(inexact());
        }
        Ok(Variant {
            name,
            inner: Items(Vec::with_capacity(len)),
        })
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Entries<EXACT>, Error> {
        Ok(Entries {
            list: Vec::with_capacity(len.unwrap_or(0)),
            key: None,
            checked: true,
        })
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Entries<EXACT>, Error> {
        Ok(Entries {
            list: Vec::with_capacity(len),
            key: None,
            checked: false,
        })
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        name: &'static str,
        len: usize,
    ) -> Result<Variant<Entries<EXACT>>, Error> {
        if EXACT {
            return Err(inexact());
        }
        Ok(Variant {
            name,
            inner: self.serialize_struct(name, len)?,
        })
    }
}

impl<const EXACT: bool> ser::SerializeSeq for Items<EXACT> {
    type Ok = Data;
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.0.push(v.serialize(Builder::<EXACT>)?);
        Ok(())
    }
    fn end(self) -> Result<Data, Error> {
        Ok(shared(Built::Seq(self.0)))
    }
}

impl<const EXACT: bool> ser::SerializeTuple for Items<EXACT> {
    type Ok = Data;
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Data, Error> {
        ser::SerializeSeq::end(self)
    }
}

impl<const EXACT: bool> ser::SerializeTupleStruct for Items<EXACT> {
    type Ok = Data;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Data, Error> {
        ser::SerializeSeq::end(self)
    }
}

impl<const EXACT: bool> ser::SerializeTupleVariant for Variant<Items<EXACT>> {
    type Ok = Data;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(&mut self.inner, v)
    }
    fn end(self) -> Result<Data, Error> {
        Ok(single(self.name, ser::SerializeSeq::end(self.inner)?))
    }
}

impl<const EXACT: bool> Entries<EXACT> {
    fn insert(&mut self, key: Key, value: Data) {
        self.list.push((key, value));
    }

    /// The mapping; a key given again keeps its first place and takes its last value, as in a
    /// `serde_json` map.
    fn finish(mut self) -> Data {
        // Keys in increasing order (a `BTreeMap`'s) are unique.
        if self.checked && !self.list.windows(2).all(|w| w[0].0 < w[1].0) {
            let mut order: Vec<usize> = (0..self.list.len()).collect();
            order.sort_by(|a, b| self.list[*a].0.cmp(&self.list[*b].0).then(a.cmp(b)));
            if order
                .windows(2)
                .any(|w| self.list[w[0]].0 == self.list[w[1]].0)
            {
                let mut kept: Vec<(Key, Data)> = Vec::with_capacity(self.list.len());
                for (k, v) in std::mem::take(&mut self.list) {
                    match kept.iter_mut().find(|(seen, _)| *seen == k) {
                        Some(at) => at.1 = v,
                        None => kept.push((k, v)),
                    }
                }
                self.list = kept;
            }
        }
        shared(Built::Map(self.list))
    }
}

/// Mappings and sequences of at most this many values, nested ones included, are held once
/// however often they are built: the labels, selectors, ports, probes and security contexts that
/// every workload repeats. At 1,000 services they are nearly half of all the objects' data.
const SHARED_UP_TO: usize = 16;

/// How many values a thread's table holds at most before it starts again: a table that fits the
/// processor's caches is looked up faster, and values built far apart are seldom the same. At
/// 10,000 services this shares as much as a table without bound (the peak 876–892 MiB against
/// 908–922 MiB, which the table's own size explains).
const SHARED_AT_MOST: usize = 32_768;

thread_local! {
    /// The small mappings and sequences this thread has built, to share (see [`shared`]).
    static SHARED: RefCell<Shared> = RefCell::new(Shared::default());
}

/// The small mappings and sequences a thread built, each held once. They are compared and hashed
/// one level deep: a nested mapping or sequence by its address, which is enough since it was
/// shared first (one address, one value; a value built elsewhere is only shared less).
#[derive(Default)]
struct Shared {
    table: hashbrown::HashTable<Data>,
    hasher: hashbrown::DefaultHashBuilder,
}

/// A mapping's or sequence's values, as [`Shared`] compares them.
#[derive(Clone, Copy)]
enum Shallow<'a> {
    Seq(&'a [Data]),
    Map(&'a [(Key, Data)]),
}

impl<'a> Shallow<'a> {
    fn of(d: &'a Data) -> Option<Self> {
        match d {
            Data::Seq(items) => Some(Self::Seq(items)),
            Data::Map(entries) => Some(Self::Map(entries)),
            _ => None,
        }
    }

    fn hash(self, build: &impl std::hash::BuildHasher) -> u64 {
        use std::hash::{Hash, Hasher};
        fn value(v: &Data, h: &mut impl Hasher) {
            match v {
                Data::Seq(items) => Arc::as_ptr(items).cast::<()>().hash(h),
                Data::Map(entries) => Arc::as_ptr(entries).cast::<()>().hash(h),
                scalar => scalar.hash(h),
            }
        }
        let mut h = build.build_hasher();
        match self {
            Self::Seq(items) => {
                h.write_u8(0);
                h.write_usize(items.len());
                for v in items {
                    value(v, &mut h);
                }
            }
            Self::Map(entries) => {
                h.write_u8(1);
                h.write_usize(entries.len());
                for (k, v) in entries {
                    k.hash(&mut h);
                    value(v, &mut h);
                }
            }
        }
        h.finish()
    }

    /// Whether it holds at most [`SHARED_UP_TO`] values, itself and nested ones included.
    fn small(self) -> bool {
        /// How many of `budget` values are left once `d`'s are counted; `None` when it holds more.
        fn fits(d: &Data, budget: usize) -> Option<usize> {
            let budget = budget.checked_sub(1)?;
            match d {
                Data::Seq(items) => items.iter().try_fold(budget, |b, i| fits(i, b)),
                Data::Map(entries) => entries.iter().try_fold(budget, |b, (_, v)| fits(v, b)),
                _ => Some(budget),
            }
        }
        let budget = SHARED_UP_TO - 1;
        match self {
            Self::Seq(items) => items.iter().try_fold(budget, |b, i| fits(i, b)),
            Self::Map(entries) => entries.iter().try_fold(budget, |b, (_, v)| fits(v, b)),
        }
        .is_some()
    }

    fn same(self, other: Self) -> bool {
        fn value(a: &Data, b: &Data) -> bool {
            match (a, b) {
                (Data::Seq(a), Data::Seq(b)) => Arc::ptr_eq(a, b),
                (Data::Map(a), Data::Map(b)) => Arc::ptr_eq(a, b),
                (a, b) => a == b,
            }
        }
        match (self, other) {
            (Self::Seq(a), Self::Seq(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(a, b)| value(a, b))
            }
            (Self::Map(a), Self::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, a), (kb, b))| ka == kb && value(a, b))
            }
            _ => false,
        }
    }
}

/// A mapping or sequence as it is built.
enum Built {
    Seq(Vec<Data>),
    Map(Vec<(Key, Data)>),
}

impl Built {
    fn view(&self) -> Shallow<'_> {
        match self {
            Self::Seq(items) => Shallow::Seq(items),
            Self::Map(entries) => Shallow::Map(entries),
        }
    }
}

/// The mapping or sequence `built`, or the equal one this thread already built when it is small
/// (see [`SHARED_UP_TO`]).
fn shared(built: Built) -> Data {
    let make = |built: Built| match built {
        Built::Seq(items) => Data::Seq(Arc::from(items)),
        Built::Map(entries) => Data::Map(Arc::from(entries)),
    };
    if !built.view().small() {
        return make(built);
    }
    SHARED.with_borrow_mut(|shared| {
        let Shared { table, hasher } = shared;
        let shallow = built.view();
        let hash = shallow.hash(hasher);
        let found = table.find(hash, |d| Shallow::of(d).is_some_and(|d| d.same(shallow)));
        if let Some(d) = found {
            return d.clone();
        }
        let d = make(built);
        if table.len() >= SHARED_AT_MOST {
            table.clear();
        }
        table.insert_unique(hash, d.clone(), |d| {
            Shallow::of(d).map_or(0, |d| d.hash(hasher))
        });
        d
    })
}

impl<const EXACT: bool> ser::SerializeMap for Entries<EXACT> {
    type Ok = Data;
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key = Some(Cow::Owned(key.serialize(KeyBuilder::<EXACT>)?));
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let key = self
            .key
            .take()
            .ok_or_else(|| <Error as ser::Error>::custom("a mapping value without its key"))?;
        let value = v.serialize(Builder::<EXACT>)?;
        self.insert(key, value);
        Ok(())
    }
    fn end(self) -> Result<Data, Error> {
        Ok(self.finish())
    }
}

impl<const EXACT: bool> ser::SerializeStruct for Entries<EXACT> {
    type Ok = Data;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        let value = v.serialize(Builder::<EXACT>)?;
        self.insert(Cow::Borrowed(key), value);
        Ok(())
    }
    fn end(self) -> Result<Data, Error> {
        Ok(self.finish())
    }
}

impl<const EXACT: bool> ser::SerializeStructVariant for Variant<Entries<EXACT>> {
    type Ok = Data;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(&mut self.inner, key, v)
    }
    fn end(self) -> Result<Data, Error> {
        Ok(single(self.name, self.inner.finish()))
    }
}

/// A mapping key, as `serde_json` accepts one: a string, or a character, boolean or integer
/// written as one (with `EXACT`, a string or a character only).
struct KeyBuilder<const EXACT: bool>;

fn key_error() -> Error {
    <Error as ser::Error>::custom("key must be a string")
}

impl<const EXACT: bool> KeyBuilder<EXACT> {
    /// A key that is no string, written as one unless `EXACT`.
    #[allow(clippy::needless_pass_by_value)]
    fn inexact_key(v: impl ToString) -> Result<String, Error> {
        if EXACT {
            Err(inexact())
        } else {
            Ok(v.to_string())
        }
    }
}

impl<const EXACT: bool> ser::Serializer for KeyBuilder<EXACT> {
    type Ok = String;
    type Error = Error;
    type SerializeSeq = ser::Impossible<String, Error>;
    type SerializeTuple = ser::Impossible<String, Error>;
    type SerializeTupleStruct = ser::Impossible<String, Error>;
    type SerializeTupleVariant = ser::Impossible<String, Error>;
    type SerializeMap = ser::Impossible<String, Error>;
    type SerializeStruct = ser::Impossible<String, Error>;
    type SerializeStructVariant = ser::Impossible<String, Error>;

    made_by! { String, written: serialize_char(char) }
    made_by! { String, try Self::inexact_key:
        serialize_bool(bool),
        serialize_i8(i8), serialize_i16(i16), serialize_i32(i32), serialize_i64(i64),
        serialize_i128(i128), serialize_u8(u8), serialize_u16(u16), serialize_u32(u32),
        serialize_u64(u64), serialize_u128(u128),
    }

    fn serialize_f32(self, _: f32) -> Result<String, Error> {
        Err(key_error())
    }
    fn serialize_f64(self, _: f64) -> Result<String, Error> {
        Err(key_error())
    }
    fn serialize_str(self, v: &str) -> Result<String, Error> {
        // The YAML serializer takes the key of a mapping of one entry that starts with `!` for a
        // tag.
        if EXACT && v.starts_with('!') {
            return Err(inexact());
        }
        Ok(v.to_owned())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<String, Error> {
        Err(key_error())
    }
    fn serialize_none(self) -> Result<String, Error> {
        Err(key_error())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<String, Error> {
        Err(key_error())
    }
    fn serialize_unit(self) -> Result<String, Error> {
        Err(key_error())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<String, Error> {
        Err(key_error())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        v: &'static str,
    ) -> Result<String, Error> {
        Ok(v.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<String, Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String, Error> {
        Err(key_error())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_error())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_error())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_error())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_error())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_error())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Err(key_error())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_error())
    }
}

impl<'de> IntoDeserializer<'de, Error> for &'de Data {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

/// Typed values read from [`Data`] as from a `serde_json::Value`, borrowing its strings.
impl<'de> serde::Deserializer<'de> for &'de Data {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Data::Null => visitor.visit_unit(),
            Data::Bool(b) => visitor.visit_bool(*b),
            Data::Number(n) => n.clone().deserialize_any(visitor),
            Data::String(s) => visitor.visit_borrowed_str(s),
            Data::Seq(items) => {
                let mut seq = serde::de::value::SeqDeserializer::new(items.iter());
                let v = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(v)
            }
            Data::Map(entries) => {
                let mut map = entries_deserializer(entries);
                let v = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(v)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Data::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            Data::String(s) => visitor.visit_enum(BorrowedStrDeserializer::new(s)),
            Data::Map(entries) if entries.len() == 1 => {
                visitor.visit_enum(MapAccessDeserializer::new(entries_deserializer(entries)))
            }
            _ => Err(<Error as serde::de::Error>::custom(
                "an enum is a string or a mapping of one entry",
            )),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier
    }
}

/// The entries of a mapping, its keys borrowed, for serde's map access.
fn entries_deserializer(
    entries: &[(Key, Data)],
) -> MapDeserializer<'_, impl Iterator<Item = (BorrowedStrDeserializer<'_, Error>, &Data)>, Error> {
    MapDeserializer::new(
        entries
            .iter()
            .map(|(k, v)| (BorrowedStrDeserializer::new(k.as_ref()), v)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    fn same<T: Serialize>(v: &T) {
        let data = to_data(v).expect("serializes");
        let value = serde_json::to_value(v).expect("serializes");
        assert_eq!(data.to_json(), value);
        // The order of the entries too.
        assert_eq!(
            serde_json::to_string(&data).expect("serializes"),
            serde_json::to_string(&value).expect("serializes")
        );
    }

    #[test]
    fn it_has_the_shape_serde_json_gives() {
        #[derive(Serialize)]
        enum E {
            Unit,
            New(u8),
            Tuple(u8, u8),
            Struct { a: u8 },
        }
        use k8s_openapi::api::apps::v1::Deployment;
        let d: Deployment = serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api", "labels": {"b": "2", "a": "1"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "api"}},
                     "template": {"spec": {"containers": [{"name": "api", "image": "x:1",
                        "ports": [{"containerPort": 8080}]}]}}}
        }))
        .expect("a Deployment");
        same(&d);
        same(&json!({"z": 1, "a": [true, null, -4, 1.5, "s"], "m": {}}));
        let mut repeated = std::collections::BTreeMap::new();
        repeated.insert(1u8, "one");
        same(&repeated);
        same(&[E::Unit, E::New(1), E::Tuple(1, 2), E::Struct { a: 3 }]);
        same(&(f64::NAN, 'c', i128::from(7u8), u128::from(9u8)));
        assert!(to_data(&std::collections::HashMap::from([((1, 2), 3)])).is_err());
    }

    #[test]
    fn a_repeated_key_keeps_its_place_and_takes_the_last_value() {
        struct Twice;
        impl Serialize for Twice {
            fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use ser::SerializeMap;
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("a", &1)?;
                m.serialize_entry("b", &2)?;
                m.serialize_entry("a", &3)?;
                m.end()
            }
        }
        same(&Twice);
        assert_eq!(to_data(&Twice).expect("serializes")["a"].as_u64(), Some(3));
    }

    #[test]
    fn it_reads_like_a_value() {
        let v = json!({"spec": {"a/b": [{"x~": "y"}], "n": 5, "t": true}});
        let d = to_data(&v).expect("serializes");
        assert_eq!(d["spec"]["n"].as_u64(), Some(5));
        assert_eq!(d["spec"]["t"], Data::Bool(true));
        assert!(d["spec"]["a/b"][0]["x~"] == "y");
        assert!(d["spec"]["missing"][3].is_null());
        assert_eq!(d["spec"].as_object().map(<[_]>::len), Some(3));
    }

    #[test]
    fn typed_values_deserialize_from_it_as_from_a_value() {
        #[derive(Deserialize, Debug, PartialEq)]
        struct Borrowing<'a> {
            name: &'a str,
            kind: Option<Kind>,
            other: Option<Kind>,
        }
        #[derive(Deserialize, Debug, PartialEq)]
        enum Kind {
            A,
            B(u8),
        }
        use k8s_openapi::api::networking::v1::NetworkPolicy;
        let v = json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "p", "namespace": "n"},
            "spec": {"podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Ingress"],
                     "ingress": [{"ports": [{"port": 8080, "protocol": "TCP"}, {"port": "http"}]}]}
        });
        let d = to_data(&v).expect("serializes");
        let from_data = NetworkPolicy::deserialize(&d).expect("reads back");
        let from_value = NetworkPolicy::deserialize(&v).expect("reads back");
        assert_eq!(from_data, from_value);
        let d = to_data(&json!({"name": "x", "kind": "A", "other": {"B": 2}})).expect("serializes");
        assert_eq!(
            Borrowing::deserialize(&d).expect("reads"),
            Borrowing {
                name: "x",
                kind: Some(Kind::A),
                other: Some(Kind::B(2))
            }
        );
        assert!(u8::deserialize(&to_data("x").expect("serializes")).is_err());
    }

    /// The address of a mapping's or sequence's values.
    fn at(d: &Data) -> *const () {
        match d {
            Data::Seq(items) => Arc::as_ptr(items).cast(),
            Data::Map(entries) => Arc::as_ptr(entries).cast(),
            _ => std::ptr::null(),
        }
    }

    #[test]
    fn small_mappings_and_sequences_built_again_are_shared() {
        let labels = json!({"app": "a", "tier": {"name": "web", "ports": [80, 443]}});
        let (first, second) = (
            to_data(&labels).expect("data"),
            to_data(&labels).expect("data"),
        );
        assert_eq!(first, second);
        assert_eq!(at(&first), at(&second), "built twice, held once");
        assert_eq!(at(&first["tier"]["ports"]), at(&second["tier"]["ports"]));
        // A value that differs anywhere, however deep, is its own.
        for other in [
            json!({"app": "a", "tier": {"name": "web", "ports": [80, 444]}}),
            json!({"app": "a", "tier": {"name": "api", "ports": [80, 443]}}),
            json!({"app": "a", "tier": {"name": "web", "port": [80, 443]}}),
            json!({"app": "a", "tier": {"name": "web", "ports": [80, 443], "x": null}}),
            json!({"app": "a", "tier": ["web", [80, 443]]}),
        ] {
            let data = to_data(&other).expect("data");
            assert_ne!(at(&data), at(&first), "{other}");
            assert_eq!(data.to_json(), other);
            same(&other);
        }
        // A larger one is built anew each time; what it holds is still shared.
        let large = json!({"items": (0..20).collect::<Vec<u32>>(), "labels": labels});
        let (a, b) = (
            to_data(&large).expect("data"),
            to_data(&large).expect("data"),
        );
        assert_eq!(a, b);
        assert_ne!(at(&a), at(&b));
        assert_eq!(at(&a["labels"]), at(&first));
        assert_ne!(at(&a["items"]), at(&b["items"]));
    }

    /// What the table compares when two values' hashes meet: every key and scalar, and each
    /// nested mapping or sequence by its address.
    #[test]
    fn shared_values_are_compared_whole_one_level_deep() {
        fn view(v: &Data) -> Shallow<'_> {
            Shallow::of(v).expect("a mapping or sequence")
        }
        let data = |v: serde_json::Value| to_data(&v).expect("data");
        let a = data(json!({"k": 1, "n": {"m": [true]}}));
        assert!(view(&a).same(view(&data(json!({"k": 1, "n": {"m": [true]}})))));
        for other in [
            json!({"k": 2, "n": {"m": [true]}}),
            json!({"j": 1, "n": {"m": [true]}}),
            json!({"k": 1, "n": {"m": [false]}}),
            json!({"k": 1}),
            json!([1, {"m": [true]}]),
        ] {
            assert!(!view(&a).same(view(&data(other.clone()))), "{other}");
        }
        // A nested value equal to another but held apart is told apart by its address.
        let apart = Data::Map(Arc::from(vec![
            (Cow::Borrowed("k"), data(json!(1))),
            (
                Cow::Borrowed("n"),
                Data::Map(Arc::from(vec![(Cow::Borrowed("m"), data(json!([true])))])),
            ),
        ]));
        assert_eq!(apart, a);
        assert!(!view(&apart).same(view(&a)));
    }
}
