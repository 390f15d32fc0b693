//! Full-text and faceted search over products, with tantivy.
//!
//! The index lives in RAM and is rebuilt from the catalog state on start (the log is the source of
//! truth, so there is nothing to persist). One document per product: its name, tags, description,
//! documentation, and the names and docs of the fields of its output ports' schemas are searched with
//! BM25, boosted by where a word is found: name 4, tags 3, description 2, schema fields 1.5,
//! documentation 1. Phrases match in the name, tags and description (the longer texts are indexed
//! without positions, which keeps the index small and quick to build).
//!
//! Facets (domain, quality tier, status, tags, owner) are stored as small integer codes in fast
//! fields (the strings are interned in memory), so one pass over the matches counts every facet and
//! keeps the top hits at once ([`CatalogCollector`]). Equal scores are ordered by a hash of the product
//! id, so answers do not depend on how the index happens to be laid out.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::{Mutex, RwLock};

use serde::{Deserialize, Serialize};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::indexer::{LogMergePolicy, NoMergePolicy};
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, Occur, Query, QueryParser, RegexQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, TEXT};
use tantivy::{
    DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, SegmentOrdinal, SegmentReader, TantivyDocument, Term,
};

use crate::model::{Product, Status};
use crate::schema::FieldInfo;
use crate::values::QualityTier;
use crate::{CatalogError, ProductId};

/// The most hits one search returns.
pub const MAX_LIMIT: usize = 1000;
const WRITER_MEMORY: usize = 64 << 20;
/// The deepest page a search serves (`offset` beyond it returns no hits, still counting matches).
pub const MAX_OFFSET: usize = 10_000;

/// A search: free text (empty for "everything") and facet filters, all of which must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SearchRequest {
    /// Words to look for; tantivy query syntax (`"exact phrase"`, `+must`, `-not`) is understood, and
    /// anything it cannot parse is searched as plain words.
    pub text: String,
    pub domain: Option<String>,
    pub quality_tier: Option<QualityTier>,
    pub status: Option<Status>,
    /// Every tag listed must be on the product.
    pub tags: Vec<String>,
    pub owner: Option<String>,
    /// At most [`MAX_LIMIT`]; 0 means the default of 20.
    pub limit: usize,
    pub offset: usize,
}

/// One hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    pub id: ProductId,
    pub name: String,
    pub description: String,
    pub owner: String,
    pub status: Status,
    pub quality_tier: Option<QualityTier>,
    pub tags: Vec<String>,
    pub score: f32,
}

/// The counts of one facet's values among all matches.
pub type FacetCounts = BTreeMap<String, u64>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResults {
    /// How many products match (not only the returned page).
    pub total: usize,
    /// Best first.
    pub hits: Vec<SearchHit>,
    /// Facet name (`domain`, `qualityTier`, `status`, `tags`, `owner`) -> value -> number of matches.
    pub facets: BTreeMap<String, FacetCounts>,
}

/// Facets in result order: (result name, fast field).
const FACETS: [(&str, &str); 5] = [
    ("domain", "c_domain"),
    ("qualityTier", "c_quality"),
    ("status", "c_status"),
    ("tags", "c_tag"),
    ("owner", "c_owner"),
];
const DOMAIN: usize = 0;
const QUALITY: usize = 1;
const STATUS: usize = 2;
const TAG: usize = 3;
const OWNER: usize = 4;

#[derive(Clone, Copy)]
struct Fields {
    /// The product's interned code (deletes go by it).
    code: Field,
    /// FNV-1a of the id: orders equal scores.
    tiebreak: Field,
    name: Field,
    tags: Field,
    description: Field,
    documentation: Field,
    schema_fields: Field,
    facets: [Field; 5],
}

/// Strings <-> dense codes. Codes are never reused (a value's code stays valid for older searchers).
#[derive(Default)]
struct Interner {
    codes: HashMap<String, u64>,
    names: Vec<String>,
}

impl Interner {
    fn intern(&mut self, value: &str) -> u64 {
        if let Some(code) = self.codes.get(value) {
            return *code;
        }
        let code = self.names.len() as u64;
        self.codes.insert(value.to_string(), code);
        self.names.push(value.to_string());
        code
    }

    fn code(&self, value: &str) -> Option<u64> {
        self.codes.get(value).copied()
    }

    fn name(&self, code: u64) -> Option<&str> {
        self.names.get(usize::try_from(code).ok()?).map(String::as_str)
    }
}

#[derive(Default)]
struct Dictionaries {
    facets: [Interner; 5],
    products: Interner,
}

/// What the index answers: ids with scores (best first), the number of matches, the facet counts.
pub(crate) struct RawResults {
    pub hits: Vec<(ProductId, f32)>,
    pub total: usize,
    pub facets: BTreeMap<String, FacetCounts>,
}

pub(crate) struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter<TantivyDocument>>,
    fields: Fields,
    parser: QueryParser,
    dictionaries: RwLock<Dictionaries>,
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

impl SearchIndex {
    pub fn new() -> Result<Self, CatalogError> {
        let mut b = Schema::builder();
        let without_positions = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default().set_tokenizer("default").set_index_option(IndexRecordOption::WithFreqs),
        );
        let fields = Fields {
            code: b.add_u64_field("code", INDEXED | FAST),
            tiebreak: b.add_u64_field("tiebreak", FAST),
            name: b.add_text_field("name", TEXT),
            tags: b.add_text_field("tags", TEXT),
            description: b.add_text_field("description", TEXT),
            documentation: b.add_text_field("documentation", without_positions.clone()),
            schema_fields: b.add_text_field("fields", without_positions),
            facets: FACETS.map(|(_, column)| b.add_u64_field(column, INDEXED | FAST)),
        };
        let index = Index::create_in_ram(b.build());
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
        let writer = index.writer_with_num_threads(threads, WRITER_MEMORY * threads)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let mut parser = QueryParser::for_index(
            &index,
            vec![fields.name, fields.tags, fields.description, fields.documentation, fields.schema_fields],
        );
        parser.set_field_boost(fields.name, 4.0);
        parser.set_field_boost(fields.tags, 3.0);
        parser.set_field_boost(fields.description, 2.0);
        parser.set_field_boost(fields.schema_fields, 1.5);
        Ok(SearchIndex { index, reader, writer: Mutex::new(writer), fields, parser, dictionaries: RwLock::default() })
    }

    fn document(&self, product: &Product, schema_fields: &[FieldInfo]) -> TantivyDocument {
        let f = &self.fields;
        let spec = &product.spec;
        let mut dictionaries = self.dictionaries.write().unwrap_or_else(|e| e.into_inner());
        let d = &mut *dictionaries;
        let mut doc = TantivyDocument::new();
        doc.add_u64(f.code, d.products.intern(spec.id.as_str()));
        doc.add_u64(f.tiebreak, fnv1a(spec.id.as_str()));
        doc.add_text(f.name, &spec.name);
        // The id's local name is searchable too ("order-events" finds orders.order-events).
        doc.add_text(f.name, spec.id.local_name());
        doc.add_text(f.description, &spec.description);
        doc.add_text(f.documentation, &spec.documentation);
        for tag in &spec.tags {
            doc.add_text(f.tags, tag);
            doc.add_u64(f.facets[TAG], d.facets[TAG].intern(tag));
        }
        for field in schema_fields {
            doc.add_text(f.schema_fields, &field.name);
            if let Some(text) = &field.doc {
                doc.add_text(f.schema_fields, text);
            }
        }
        doc.add_u64(f.facets[DOMAIN], d.facets[DOMAIN].intern(spec.id.domain().as_str()));
        doc.add_u64(f.facets[STATUS], d.facets[STATUS].intern(product.status().as_str()));
        if let Some(q) = spec.quality_tier {
            doc.add_u64(f.facets[QUALITY], d.facets[QUALITY].intern(q.as_str()));
        }
        doc.add_u64(f.facets[OWNER], d.facets[OWNER].intern(&spec.owner));
        doc
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, IndexWriter<TantivyDocument>> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn product_term(&self, id: &ProductId) -> Option<Term> {
        let code = self.dictionaries.read().unwrap_or_else(|e| e.into_inner()).products.code(id.as_str())?;
        Some(Term::from_field_u64(self.fields.code, code))
    }

    /// Adds or replaces a product's document (visible after [`SearchIndex::commit`]).
    pub fn upsert(&self, product: &Product, schema_fields: &[FieldInfo]) -> Result<(), CatalogError> {
        let writer = self.writer();
        if let Some(term) = self.product_term(product.id()) {
            writer.delete_term(term);
        }
        writer.add_document(self.document(product, schema_fields))?;
        Ok(())
    }

    /// Starts a bulk load: segments are not merged until [`SearchIndex::finish_bulk_load`].
    pub fn start_bulk_load(&self) {
        self.writer().set_merge_policy(Box::new(NoMergePolicy));
    }

    /// Commits a bulk load, merges it into one segment when the load made more than a couple (searches
    /// then visit few segments, and no background merge competes with the first searches for the CPU),
    /// and lets segments merge again as they come.
    pub fn finish_bulk_load(&self) -> Result<(), CatalogError> {
        self.commit()?;
        let segments = self.index.searchable_segment_ids()?;
        let mut writer = self.writer();
        if segments.len() > 2 {
            writer.merge(&segments).wait()?;
        }
        writer.set_merge_policy(Box::<LogMergePolicy>::default());
        drop(writer);
        self.reader.reload()?;
        Ok(())
    }

    /// Adds a product known to be absent (bulk load on start).
    pub fn add(&self, product: &Product, schema_fields: &[FieldInfo]) -> Result<(), CatalogError> {
        let doc = self.document(product, schema_fields);
        self.writer().add_document(doc)?;
        Ok(())
    }

    pub fn remove(&self, id: &ProductId) {
        if let Some(term) = self.product_term(id) {
            self.writer().delete_term(term);
        }
    }

    /// Makes every change so far visible to searches.
    pub fn commit(&self) -> Result<(), CatalogError> {
        self.writer().commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Search as you type: while the last word is still being typed ("shipm"), products whose words
    /// start with it match too, below whole-word matches. `None` when the text does not end in a plain
    /// word of at least two characters (shorter prefixes would expand to most of the dictionary).
    fn as_you_type(&self, text: &str) -> Option<Box<dyn Query>> {
        if text.ends_with(char::is_whitespace) {
            return None;
        }
        let (rest, last) = text.rsplit_once(char::is_whitespace).unwrap_or(("", text));
        if last.chars().count() < 2 || !last.chars().all(char::is_alphanumeric) {
            return None;
        }
        // Alphanumeric characters are never regex syntax; the default tokenizer lower-cases terms.
        let pattern = format!("{}.*", last.to_lowercase());
        let f = &self.fields;
        let mut prefixes: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for field in [f.name, f.tags, f.description, f.schema_fields] {
            prefixes.push((Occur::Should, Box::new(RegexQuery::from_pattern(&pattern, field).ok()?)));
        }
        let mut branch: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(BooleanQuery::new(prefixes)))];
        if !rest.trim().is_empty() {
            branch.push((Occur::Must, self.parser.parse_query_lenient(rest).0));
        }
        Some(Box::new(BoostQuery::new(Box::new(BooleanQuery::new(branch)), 0.5)))
    }

    /// The matching product ids with scores (best first), the total, and the facet counts.
    pub fn search(&self, request: &SearchRequest) -> Result<RawResults, CatalogError> {
        let f = &self.fields;
        // The searcher first: every code it holds is then in the dictionaries read below.
        let searcher = self.reader.searcher();
        let dictionaries = self.dictionaries.read().unwrap_or_else(|e| e.into_inner());
        let d = &*dictionaries;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let text = request.text.trim();
        if !text.is_empty() {
            // Lenient: user input never fails; what cannot be parsed is searched as plain words.
            let (query, _errors) = self.parser.parse_query_lenient(text);
            let query = match self.as_you_type(request.text.trim_start()) {
                Some(prefixed) => Box::new(BooleanQuery::new(vec![(Occur::Should, query), (Occur::Should, prefixed)])),
                None => query,
            };
            clauses.push((Occur::Must, query));
        }
        let mut filters: Vec<(usize, &str)> = Vec::new();
        if let Some(v) = &request.domain {
            filters.push((DOMAIN, v));
        }
        if let Some(q) = request.quality_tier {
            filters.push((QUALITY, q.as_str()));
        }
        if let Some(s) = request.status {
            filters.push((STATUS, s.as_str()));
        }
        for t in &request.tags {
            filters.push((TAG, t));
        }
        if let Some(o) = &request.owner {
            filters.push((OWNER, o));
        }
        for (facet, value) in filters {
            // A value no product has: nothing matches.
            let Some(code) = d.facets[facet].code(value) else {
                return Ok(RawResults { hits: Vec::new(), total: 0, facets: empty_facets() });
            };
            let term = Term::from_field_u64(f.facets[facet], code);
            clauses.push((Occur::Must, Box::new(TermQuery::new(term, IndexRecordOption::Basic))));
        }
        let query: Box<dyn Query> = match clauses.len() {
            0 => Box::new(AllQuery),
            1 if !text.is_empty() => clauses.pop().map_or_else(|| Box::new(AllQuery) as Box<dyn Query>, |(_, q)| q),
            _ => {
                if text.is_empty() {
                    clauses.push((Occur::Must, Box::new(AllQuery)));
                }
                Box::new(BooleanQuery::new(clauses))
            }
        };
        let limit = match request.limit {
            0 => 20,
            n => n.min(MAX_LIMIT),
        };
        let offset = request.offset;
        let keep = if offset > MAX_OFFSET { 0 } else { offset + limit };
        let collector = CatalogCollector { keep, facet_sizes: d.facets.each_ref().map(|i| i.names.len()) };
        let fruit = searcher.search(&query, &collector)?;
        // Ascending in `Reverse` order: the best hit first.
        let hits = fruit
            .top
            .into_sorted_vec()
            .into_iter()
            .skip(offset)
            .filter_map(|Reverse(r)| Some((ProductId::parse(d.products.name(r.code)?).ok()?, r.score)))
            .collect();
        let mut facets = empty_facets();
        for (i, (name, _)) in FACETS.iter().enumerate() {
            let counts: FacetCounts = fruit.counts[i]
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .filter_map(|(code, n)| Some((d.facets[i].name(code as u64)?.to_string(), u64::from(*n))))
                .collect();
            facets.insert(name.to_string(), counts);
        }
        Ok(RawResults { hits, total: fruit.total as usize, facets })
    }
}

fn empty_facets() -> BTreeMap<String, FacetCounts> {
    FACETS.iter().map(|(name, _)| (name.to_string(), FacetCounts::new())).collect()
}

/// A hit being ranked: greater is better (higher score, then lower id hash).
#[derive(Debug, Clone, Copy)]
struct Ranked {
    score: Score,
    tiebreak: u64,
    code: u64,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score.total_cmp(&other.score).then_with(|| other.tiebreak.cmp(&self.tiebreak))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

/// One pass over the matches: the best `keep` hits, the number of matches and every facet's counts.
struct CatalogCollector {
    keep: usize,
    facet_sizes: [usize; 5],
}

struct CatalogFruit {
    /// A min-heap of the best hits (its top is the worst kept).
    top: BinaryHeap<Reverse<Ranked>>,
    total: u64,
    counts: [Vec<u32>; 5],
}

struct CatalogSegmentCollector {
    keep: usize,
    code: Column<u64>,
    tiebreak: Column<u64>,
    facets: [Column<u64>; 5],
    fruit: CatalogFruit,
}

impl Collector for CatalogCollector {
    type Fruit = CatalogFruit;
    type Child = CatalogSegmentCollector;

    fn for_segment(&self, _: SegmentOrdinal, segment: &SegmentReader) -> tantivy::Result<CatalogSegmentCollector> {
        let ff = segment.fast_fields();
        let facets =
            [ff.u64("c_domain")?, ff.u64("c_quality")?, ff.u64("c_status")?, ff.u64("c_tag")?, ff.u64("c_owner")?];
        Ok(CatalogSegmentCollector {
            keep: self.keep,
            code: ff.u64("code")?,
            tiebreak: ff.u64("tiebreak")?,
            facets,
            fruit: CatalogFruit {
                top: BinaryHeap::with_capacity(self.keep + 1),
                total: 0,
                counts: self.facet_sizes.map(|n| vec![0; n]),
            },
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<CatalogFruit>) -> tantivy::Result<CatalogFruit> {
        let mut merged = CatalogFruit {
            top: BinaryHeap::with_capacity(self.keep + 1),
            total: 0,
            counts: self.facet_sizes.map(|n| vec![0; n]),
        };
        for fruit in fruits {
            merged.total += fruit.total;
            for (into, from) in merged.counts.iter_mut().zip(fruit.counts) {
                for (a, b) in into.iter_mut().zip(from) {
                    *a += b;
                }
            }
            for hit in fruit.top {
                push_bounded(&mut merged.top, hit.0, self.keep);
            }
        }
        Ok(merged)
    }
}

fn push_bounded(heap: &mut BinaryHeap<Reverse<Ranked>>, hit: Ranked, keep: usize) {
    if heap.len() < keep {
        heap.push(Reverse(hit));
    } else if heap.peek().is_some_and(|worst| hit > worst.0) {
        heap.pop();
        heap.push(Reverse(hit));
    }
}

impl SegmentCollector for CatalogSegmentCollector {
    type Fruit = CatalogFruit;

    fn collect(&mut self, doc: DocId, score: Score) {
        let fruit = &mut self.fruit;
        fruit.total += 1;
        for (i, column) in self.facets.iter().enumerate() {
            let counts = &mut fruit.counts[i];
            if i == TAG {
                for code in column.values_for_doc(doc) {
                    if let Some(n) = usize::try_from(code).ok().and_then(|c| counts.get_mut(c)) {
                        *n += 1;
                    }
                }
            } else if let Some(n) =
                column.first(doc).and_then(|c| usize::try_from(c).ok()).and_then(|c| counts.get_mut(c))
            {
                *n += 1;
            }
        }
        if self.keep == 0 {
            return;
        }
        // Most matches cannot enter a full heap: decide on the score alone when possible.
        if fruit.top.len() >= self.keep && fruit.top.peek().is_some_and(|worst| score < worst.0.score) {
            return;
        }
        let (Some(code), Some(tiebreak)) = (self.code.first(doc), self.tiebreak.first(doc)) else { return };
        push_bounded(&mut fruit.top, Ranked { score, tiebreak, code }, self.keep);
    }

    fn harvest(self) -> CatalogFruit {
        self.fruit
    }
}
