//! OpenAPI schemas of the catalog's types (cargo feature `openapi`, which the server turns on): the
//! derives sit on the types themselves, so the document cannot drift from what serde writes. Values
//! that serialize as strings (ids, versions, dates, durations) are described here as strings.

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

use crate::{DomainName, Freshness, IsoDate, ProductId, SemVer};

macro_rules! string_schema {
    ($($ty:ty => $description:literal),+ $(,)?) => {$(
        impl utoipa::PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new().schema_type(Type::String).description(Some($description)).into()
            }
        }
        impl utoipa::ToSchema for $ty {}
    )+};
}

string_schema! {
    DomainName => "A domain name: lowercase letters, digits, '-' and '_', starting with a letter",
    ProductId => "A data product id: DOMAIN.NAME",
    SemVer => "A semantic version MAJOR.MINOR.PATCH[-PRERELEASE]",
    IsoDate => "A date, YYYY-MM-DD",
    Freshness => "A duration such as 15m, 1h or 2d",
}
