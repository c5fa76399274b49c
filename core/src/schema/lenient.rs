//! Reading documents other clients wrote with JavaScript's default types.
//!
//! A stock automerge-repo client in JavaScript writes every string as a text object (automerge
//! 2's default), every whole number as a signed integer, and a `Date` as a timestamp; this
//! crate writes scalar strings and unsigned integers where its schema says so. [`Lenient`]
//! reads a document as this crate's schema expects: a text object where a string is expected
//! reads as that string, a whole `f64` or a timestamp as an integer. The fields that are text
//! objects in the schema itself (a meeting's `notes`) stay text objects, so that edits to them
//! still merge character by character. Unsigned fields accept signed integers that are not
//! negative ([`uint_or_int`], [`opt_uint_or_int`]). What still does not fit is refused by
//! name.

use std::borrow::Cow;
use std::ops::RangeBounds;

use automerge::{self as am, AutoCommit, AutomergeError, ObjId, ObjType, ScalarValue, Value};
use autosurgeon::{HydrateError, Prop, ReadDoc};

/// The keys whose values are text objects in this crate's schema.
const TEXT_FIELDS: &[&str] = &["notes"];

/// A document, read leniently (see the module's documentation).
pub struct Lenient<'a>(pub &'a AutoCommit);

impl ReadDoc for Lenient<'_> {
    type Parents<'b>
        = <AutoCommit as ReadDoc>::Parents<'b>
    where
        Self: 'b;

    fn get_heads(&self) -> Vec<am::ChangeHash> {
        ReadDoc::get_heads(self.0)
    }

    fn get<P: Into<am::Prop>>(
        &self,
        obj: &ObjId,
        prop: P,
    ) -> Result<Option<(Value<'_>, ObjId)>, AutomergeError> {
        let prop = prop.into();
        let text_field = matches!(&prop, am::Prop::Map(key) if TEXT_FIELDS.contains(&key.as_str()));
        Ok(match ReadDoc::get(self.0, obj, prop)? {
            Some((Value::Object(ObjType::Text), id)) if !text_field => {
                let text = ReadDoc::text(self.0, &id)?;
                Some((Value::Scalar(Cow::Owned(ScalarValue::Str(text.into()))), id))
            }
            Some((Value::Scalar(s), id)) => {
                let whole = match s.as_ref() {
                    ScalarValue::F64(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
                    ScalarValue::Timestamp(t) => Some(*t),
                    _ => None,
                };
                match whole {
                    Some(i) => Some((Value::Scalar(Cow::Owned(ScalarValue::Int(i))), id)),
                    None => Some((Value::Scalar(s), id)),
                }
            }
            other => other,
        })
    }

    fn object_type<O: AsRef<ObjId>>(&self, obj: O) -> Option<ObjType> {
        ReadDoc::object_type(self.0, obj)
    }

    fn map_range<'b, O, R>(&'b self, obj: O, range: R) -> am::iter::MapRange<'b>
    where
        R: RangeBounds<String> + 'b,
        O: AsRef<ObjId>,
        R: RangeBounds<String>,
    {
        ReadDoc::map_range(self.0, obj, range)
    }

    fn list_range<O: AsRef<ObjId>, R: RangeBounds<usize>>(
        &self,
        obj: O,
        range: R,
    ) -> am::iter::ListRange<'_> {
        ReadDoc::list_range(self.0, obj, range)
    }

    fn length<O: AsRef<ObjId>>(&self, obj: O) -> usize {
        ReadDoc::length(self.0, obj)
    }

    fn text<O: AsRef<ObjId>>(&self, obj: O) -> Result<String, AutomergeError> {
        ReadDoc::text(self.0, obj)
    }

    fn parents<O: AsRef<ObjId>>(&self, obj: O) -> Result<Self::Parents<'_>, AutomergeError> {
        ReadDoc::parents(self.0, obj)
    }

    fn is_empty(&self) -> bool {
        ReadDoc::is_empty(self.0)
    }
}

/// An unsigned field that also takes a signed integer that is not negative (JavaScript's
/// whole numbers).
pub fn uint_or_int<D: ReadDoc, T: TryFrom<u64>>(
    doc: &D,
    obj: &ObjId,
    prop: Prop<'_>,
) -> Result<T, HydrateError> {
    match doc.get(obj, &prop)? {
        Some((Value::Scalar(s), _)) => unsigned(s.as_ref()),
        Some(_) => Err(HydrateError::unexpected(
            "an unsigned integer",
            "an object".into(),
        )),
        None => Err(HydrateError::unexpected(
            "an unsigned integer",
            "nothing".into(),
        )),
    }
}

/// [`uint_or_int`] for an optional field (missing or null: `None`).
pub fn opt_uint_or_int<D: ReadDoc, T: TryFrom<u64>>(
    doc: &D,
    obj: &ObjId,
    prop: Prop<'_>,
) -> Result<Option<T>, HydrateError> {
    match doc.get(obj, &prop)? {
        None => Ok(None),
        Some((Value::Scalar(s), _)) if matches!(s.as_ref(), ScalarValue::Null) => Ok(None),
        Some((Value::Scalar(s), _)) => unsigned(s.as_ref()).map(Some),
        Some(_) => Err(HydrateError::unexpected(
            "an unsigned integer",
            "an object".into(),
        )),
    }
}

fn unsigned<T: TryFrom<u64>>(s: &ScalarValue) -> Result<T, HydrateError> {
    let n = match s {
        ScalarValue::Uint(u) => Some(*u),
        ScalarValue::Int(i) => u64::try_from(*i).ok(),
        ScalarValue::F64(f) if f.fract() == 0.0 && *f >= 0.0 && *f < 9.0e15 => Some(*f as u64),
        _ => None,
    };
    n.and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| HydrateError::unexpected("an unsigned integer in range", format!("{s}")))
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{ObjType, ROOT, ScalarValue};

    use crate::schema::contacts::ContactsDoc;
    use crate::schema::vocab::ContactResult;
    use crate::schema::{DocKind, hydrate};

    /// A contacts document as JavaScript writes one: text objects, signed integers, a
    /// timestamp.
    fn javascript_contacts(
        support: i64,
    ) -> Result<automerge::AutoCommit, automerge::AutomergeError> {
        let mut doc = crate::schema::new_doc();
        let text =
            |doc: &mut automerge::AutoCommit, obj: &automerge::ObjId, key: &str, value: &str| {
                let t = doc.put_object(obj, key, ObjType::Text)?;
                doc.splice_text(&t, 0, 0, value)
            };
        doc.put(ROOT, "schema", 1_i64)?;
        text(&mut doc, &ROOT, "group_id", "g")?;
        text(&mut doc, &ROOT, "canvasser", "d")?;
        text(&mut doc, &ROOT, "period", "2026-01")?;
        let contacts = doc.put_object(ROOT, "contacts", ObjType::Map)?;
        let c = doc.put_object(&contacts, "c1", ObjType::Map)?;
        text(&mut doc, &c, "id", "c1")?;
        doc.put(&c, "at", ScalarValue::Timestamp(1_796_000_000_000))?;
        text(&mut doc, &c, "canvasser", "d")?;
        text(&mut doc, &c, "result", "talked")?;
        doc.put(&c, "support", support)?;
        let interests = doc.put_object(&c, "interests", ObjType::List)?;
        let i = doc.insert_object(&interests, 0, ObjType::Text)?;
        doc.splice_text(&i, 0, 0, "attend")?;
        doc.commit();
        Ok(doc)
    }

    #[test]
    fn javascript_types_read_and_what_does_not_fit_is_named()
    -> Result<(), Box<dyn std::error::Error>> {
        let doc = javascript_contacts(4)?;
        let c: ContactsDoc = hydrate(&doc, "x", DocKind::Contacts)?;
        assert_eq!((c.schema, c.period.as_str()), (1, "2026-01"));
        let contact = &c.contacts["c1"];
        assert_eq!(contact.result, ContactResult::Talked);
        assert_eq!((contact.support, contact.at), (Some(4), 1_796_000_000_000));
        assert_eq!(contact.interests.len(), 1);
        let e = hydrate::<ContactsDoc>(&javascript_contacts(-3)?, "x", DocKind::Contacts)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("unsigned integer") && e.contains("contacts schema"),
            "{e}"
        );
        Ok(())
    }
}
