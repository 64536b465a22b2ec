-- Reserved: migration 0004 belongs to the policies-as-data branch, merged
-- beside this one. This placeholder only keeps the numbers contiguous
-- (receipts.Migrations requires it) on a branch without it; delete it when
-- that branch's 0004 is merged.
SELECT 1;
