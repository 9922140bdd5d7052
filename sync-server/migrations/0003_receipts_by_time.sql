-- Which documents changed after the search index last read them (see
-- Db::documents_to_index), without reading every receipt.
CREATE INDEX change_receipts_by_time ON change_receipts(document_id, received_at);
