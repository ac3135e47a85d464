//! Pseudonymisation from C: keyed tokens of single values, and encoded batches.

use std::ffi::c_char;

use carematch::pseudonym::{BLOOM_COLUMNS, EncodeOptions, Key, Pseudonymiser, TokenField};

use crate::batch::{carematch_batch, records_of};
use crate::guard::{Failure, ffi_body};
use crate::raw;
use crate::status::{CAREMATCH_INVALID_ARGUMENT, carematch_status};

/// A pseudonymiser: the field keys derived from a master key for one project and key version.
/// Immutable: safe to use from several threads at once. Its key material is zeroised when it
/// is freed and never appears in a message.
#[allow(non_camel_case_types)] // the C name, as declared in the header
pub struct carematch_pseudonymiser(Pseudonymiser);

/// Makes a pseudonymiser from a 32-byte master `key`, a `project` name and a `key_version`
/// (files to be linked must be encoded with the same three).
///
/// Errors: `CAREMATCH_NULL_ARGUMENT`, `CAREMATCH_INVALID_ARGUMENT` (a key that is not 32
/// bytes), `CAREMATCH_INVALID_UTF8` (`project`).
///
/// # Safety
///
/// `key` valid for `key_len` bytes; `(project, project_len)` valid text; `out` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_pseudonymiser_new(
    key: *const u8,
    key_len: usize,
    project: *const c_char,
    project_len: usize,
    key_version: u32,
    out: *mut *mut carematch_pseudonymiser,
) -> carematch_status {
    ffi_body!(|caller| {
        let out = caller.out_param(out)?;
        if key_len != 32 {
            return Err(Failure::new(
                CAREMATCH_INVALID_ARGUMENT,
                format!("the key must be 32 bytes, not {key_len}"),
            ));
        }
        let bytes = caller.bytes(key, key_len)?;
        let mut k = [0u8; 32];
        k.copy_from_slice(bytes);
        let master = Key::from_bytes(k);
        let project = caller.str(project, project_len)?;
        out.write(raw::new_handle(carematch_pseudonymiser(
            Pseudonymiser::new(&master, project, key_version),
        )));
        Ok(())
    })
}

/// The field whose token column (`nhs_number.tok`) or filter column (`surname.bf`) is `name`.
fn field_of(name: &str) -> Option<(TokenField, bool)> {
    if let Some((_, f)) = BLOOM_COLUMNS.iter().find(|(c, _)| *c == name) {
        return Some((*f, true));
    }
    TokenField::ALL
        .into_iter()
        .chain((0..8).map(TokenField::DobMasked))
        .chain((0..10).map(TokenField::NhsMasked))
        .find(|f| f.token_column() == name)
        .map(|f| (f, false))
}

/// The pseudonym of one normalised `value` for the column `field` of an encoded file: a keyed
/// token (`"nhs_number.tok"`, `"dob.tok"`, …: 32 hex digits) or a Bloom filter
/// (`"surname.bf"`, …: 256 hex digits, balanced, without the per-record noise that encoded
/// files add). Written into `(buf, len)` with a NUL, as `carematch_model_to_json` does.
///
/// Name columns come out unsalted, as `--name-salt none` writes them (scheme 1): not what
/// the default file holds (names salted with the date of birth), and open to frequency
/// analysis if published; to write the default file use `carematch_pseudonymiser_encode`.
///
/// Values are taken as normalised (`"obrien"`, `"9434765919"`, `"1980-02-01"`): the test
/// vectors in `tests/data/vectors.json` list both.
///
/// Errors: `CAREMATCH_INVALID_ARGUMENT` for an unknown column name.
///
/// # Safety
///
/// `p` a live pseudonymiser; the texts valid; `buf` NULL or valid for `len` bytes;
/// `out_written` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_pseudonymiser_token(
    p: *const carematch_pseudonymiser,
    field: *const c_char,
    field_len: usize,
    value: *const c_char,
    value_len: usize,
    buf: *mut c_char,
    len: usize,
    out_written: *mut usize,
) -> carematch_status {
    ffi_body!(|caller| {
        let p = caller.handle(p)?;
        let name = caller.str(field, field_len)?;
        let value = caller.str(value, value_len)?;
        let (f, bloom) = field_of(name).ok_or_else(|| {
            Failure::new(
                CAREMATCH_INVALID_ARGUMENT,
                format!("no encoded column '{name}'"),
            )
        })?;
        let text = if bloom {
            p.0.bloom(f, value).to_hex()
        } else {
            p.0.token(f, value).to_string()
        };
        caller.text_out(&text, buf, len, out_written)
    })
}

/// Encodes `batch` as `carematch pseudonymise` encodes a file: a new batch with the record id
/// (its token when `tokenise_id` is 1), the scheme column, keyed tokens and hardened Bloom
/// filters, and no clear text. The new batch links with another encoded under the same key,
/// project and version (`carematch_link`).
///
/// Errors: `CAREMATCH_NULL_ARGUMENT`, `CAREMATCH_INPUT_ERROR`, `CAREMATCH_INVALID_ARGUMENT`
/// (`tokenise_id` not 0 or 1).
///
/// # Safety
///
/// `p` a live pseudonymiser; `batch` a live batch; `out` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_pseudonymiser_encode(
    p: *const carematch_pseudonymiser,
    batch: *const carematch_batch,
    tokenise_id: u32,
    out: *mut *mut carematch_batch,
) -> carematch_status {
    ffi_body!(|caller| {
        let out = caller.out_param(out)?;
        let (p, batch) = (caller.handle(p)?, caller.handle(batch)?);
        let options = EncodeOptions {
            tokenise_id: raw::flag(tokenise_id, "tokenise_id")?,
            ..EncodeOptions::default()
        };
        let records = records_of(&[batch])?;
        let encoded = carematch::arrow::encoded_batch(&records, 0, &p.0, options)?;
        let name = format!("{}.enc", batch.name());
        let table = carematch::arrow::ArrowTable::from_reader(
            &name,
            arrow_array::RecordBatchIterator::new([Ok(encoded.clone())], encoded.schema()),
        )?;
        out.write(raw::new_handle(carematch_batch::from_table(name, table)));
        Ok(())
    })
}

/// Frees a pseudonymiser (zeroising its keys); NULL is a no-op. The pseudonymiser must not
/// be used afterwards.
///
/// Thread-safety: every other function taking a pseudonymiser may be called from several
/// threads at once, but not `carematch_pseudonymiser_free`. Freeing a pseudonymiser while
/// another thread is using it (a call taking it still in flight) is undefined behaviour:
/// carematch does not wait for such calls; the caller must ensure none is in flight and none
/// starts.
///
/// # Safety
///
/// `p` NULL or a live pseudonymiser no other thread is using.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn carematch_pseudonymiser_free(p: *mut carematch_pseudonymiser) {
    ffi_body!(or(), |caller| { caller.free_handle(p) })
}
