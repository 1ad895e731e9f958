"""The dlrm builder: MLPerf DLRM-DCNv2 shapes, parameter counts, training ops, bad input."""
import os

import numpy as np
import pytest

from roofsim.errors import SpecError
from roofsim.ops import kinds
from roofsim.ops.dlrm import build_dlrm
from roofsim.ops.popularity import expected_distinct
from roofsim.workloads import get_workload

# MLCommons training reference recommendation_v2/torchrec_dlrm, README:
# --num_embeddings_per_feature and --multi_hot_sizes of the Criteo 1TB multi-hot benchmark
MLPERF_ROWS = [40000000, 39060, 17295, 7424, 20265, 3, 7122, 1543, 63, 40000000, 3067956, 405282, 10,
               2209, 11938, 155, 4, 976, 14, 40000000, 40000000, 40000000, 590152, 12973, 108, 36]
MLPERF_HOT = [3, 2, 1, 2, 6, 1, 1, 1, 1, 7, 3, 8, 1, 6, 9, 5, 1, 1, 1, 12, 100, 27, 10, 3, 1, 1]

SMALL = dict(dense_features=4, bottom_mlp=[8, 4], table_rows=[100, 1000], emb_dim=4, pooling=[1, 3],
             top_mlp=[8, 1], batch=16)


def ops_by_name(wl):
    return {op.name: op for op in wl.ops}


def test_mlperf_tables_rows_and_lookups_per_sample():
    wl = get_workload("dlrm")
    p = dict(wl.params)
    assert p["table_rows"] == MLPERF_ROWS and p["pooling"] == MLPERF_HOT
    # sum of the 26 multi-hot sizes: 3+2+1+2+6+1+1+1+1+7+3+8+1+6+9+5+1+1+1+12+100+27+10+3+1+1 = 214
    assert p["lookups_per_sample"] == 214
    # 5 tables of 40M + the rest: 204,184,588 rows x 128 values = 26,135,627,264 embedding parameters
    assert p["embedding_parameters"] == 204_184_588 * 128 == 26_135_627_264
    # fp32 rows of 128 values: 512 B each, 104.5 GB of tables
    assert p["embedding_bytes"] == 204_184_588 * 512
    ops = ops_by_name(wl)
    # 65536 samples over 8 devices: 8192 bags per table on the average device; table 20 pools 100 rows
    assert ops["emb_20"].access.lookups == 8192 * 100 and ops["emb_20"].access.row_bytes == 512
    # ... and holds 1/8 of its rows: 40M / 8
    assert ops["emb_20"].access.table_rows == 5_000_000
    assert sum(1 for op in wl.ops if op.kind == "embedding_bag") == 26


def test_mlperf_dense_parameters_by_hand():
    p = dict(get_workload("dlrm").params)
    bottom = (13 * 512 + 512) + (512 * 256 + 256) + (256 * 128 + 128)                 # 171,392
    D = 27 * 128                                                                       # 3456 features
    cross = 3 * (2 * D * 512 + D)                                                      # U, V, bias: 10,627,200
    top = (D * 1024 + 1024) + (1024 * 1024 + 1024) + (1024 * 512 + 512) + (512 * 256 + 256) + (256 + 1)
    assert p["interaction_width"] == D
    assert p["dense_parameters"] == bottom + cross + top == 16_044_545


def test_low_rank_cross_layer_flops():
    ops = ops_by_name(get_workload("dlrm"))
    # x_l V^T: 8192 x 3456 -> 512, 2 m n k = 2 * 8192 * 512 * 3456
    assert ops["cross_1.V"].total_flops == 2 * 8192 * 512 * 3456
    assert ops["cross_1.U"].total_flops == 2 * 8192 * 3456 * 512
    full = build_dlrm(**{**SMALL, "interaction": "dcnv2", "cross_rank": 0, "cross_layers": 2})
    # full rank: D = 4 + 2 * 4 = 12, one 16 x 12 x 12 GEMM per layer
    assert ops_by_name(full)["cross_2.W"].total_flops == 2 * 16 * 12 * 12


def test_dot_interaction_reads_its_input_once():
    wl = build_dlrm(**SMALL)
    op = ops_by_name(wl)["interaction"]
    # v = 3 vectors of 4 fp32 values per sample, 16 samples: X = 16*3*4*4 B = 768 B read ONCE;
    # output 4 + 3*2/2 = 7 values per sample: 16*7*4 = 448 B
    assert op.read_bytes == 768 and op.write_bytes == 448
    assert op.total_flops == 2 * 16 * 3 * 3 * 4


def test_row_bytes_follow_the_dtype():
    assert kinds.embedding_row_bytes(128, "fp32") == 512
    assert kinds.embedding_row_bytes(128, "fp16") == 256 == kinds.embedding_row_bytes(128, "bf16")
    # int8 rows carry an fp32 scale and bias (FBGEMM fused 8-bit row-wise): 128 + 8
    assert kinds.embedding_row_bytes(128, "int8") == 136
    wl = build_dlrm(**{**SMALL, "emb_dtype": ["fp16", "int8"]})
    ops = ops_by_name(wl)
    assert ops["emb_0"].access.row_bytes == 8 and ops["emb_1"].access.row_bytes == 12


def test_mean_pooling_adds_a_scale_per_value():
    s = ops_by_name(build_dlrm(**SMALL))["emb_1"].total_flops
    m = ops_by_name(build_dlrm(**{**SMALL, "pooling_mode": "mean"}))["emb_1"].total_flops
    # 16 bags of 3 rows x 4 values: sum = 16 * 2 * 4 = 128 additions; mean adds 16 * 4 scales
    assert s == 128 and m == 128 + 64


def test_training_adds_sparse_updates_and_collectives():
    inf = build_dlrm(**SMALL)
    assert all(op.phase == "forward" for op in inf.ops)
    tr = build_dlrm(**{**SMALL, "phase": "training", "devices": 2, "optimizer": "adam"})
    ops = ops_by_name(tr)
    # the first bottom layer needs no input gradient
    assert "bottom_mlp_1.dgrad" not in ops and "bottom_mlp_2.dgrad" in ops and "bottom_mlp_1.wgrad" in ops
    # all-to-all buffer: 16 / 2 = 8 samples x (4 + 4) pooled fp32 values = 256 B, both directions
    assert ops["emb_all_to_all"].access.bytes == 8 * 8 * 4 == ops["emb_grad_all_to_all"].access.bytes
    dense = dict(tr.params)["dense_parameters"]
    assert ops["dense_all_reduce"].access.bytes == dense * 4
    # table 0 on the average of 2 devices: 8 bags x 1 lookup over its 50 Zipf rows; Adam keeps 2
    # fp32 moments per value:
    upd = ops["emb_0.update"]
    u = expected_distinct(8, 50, "zipf", 1.05)
    assert upd.bytes_by_role()["optimizer_state"] == pytest.approx(2 * u * 4 * 8)   # read + write
    assert upd.bytes_by_role()["weight"] == pytest.approx(2 * u * 16)
    single = ops_by_name(build_dlrm(**{**SMALL, "phase": "training"}))
    assert not any(op.kind == "collective" for op in single.values())


@pytest.mark.parametrize("optimizer,state", [("sgd", 0), ("adagrad", 4 * 4), ("rowwise_adagrad", 4), ("adam", 32)])
def test_optimizer_state_per_touched_row(optimizer, state):
    op = kinds.embedding_update("u", bags=10, pooling=2, unique_rows=7, dim=4, optimizer=optimizer)
    # 7 rows: state per row read and written (adagrad: 4 fp32 values; row-wise: one fp32)
    assert op.bytes_by_role().get("optimizer_state", 0) == 2 * 7 * state


def test_expected_distinct_matches_sampling():
    from roofsim.cache.traces import zipf_ranks
    rng = np.random.default_rng(1)
    # uniform: R (1 - (1 - 1/R)^n) with R = 1000, n = 1000: 1000 (1 - 0.999^1000) = 632.3
    assert expected_distinct(1000, 1000, "uniform") == pytest.approx(632.3, abs=0.1)
    for n, items in ((5000, 10**6), (200000, 40 * 10**6)):
        sampled = np.mean([np.unique(zipf_ranks(n, items, 1.05, rng)).size for _ in range(3)])
        assert expected_distinct(n, items, "zipf", 1.05) == pytest.approx(sampled, rel=0.02)


def test_embedding_bag_is_memory_bound_on_an_a100():
    from roofsim.api import run
    df = run("a100", "dlrm")
    big = df[df["op"].isin(["emb_20", "emb_21", "emb_0"])]
    # 24,576 to 819,200 lookups of 512 B rows at 0-0.5 FLOP per byte: far below the A100's ridge
    assert len(big) == 3 and all(b.startswith("memory:") for b in big["bound"])
    # uniform ids over 5M-row shards (2.56 GB) mostly miss the 40 MiB L2: HBM serves them
    uni = run("a100", "dlrm", wl_overrides={"distribution": "uniform"})
    assert set(uni[uni["op"].isin(["emb_20", "emb_21"])]["bound"]) == {"memory:hbm"}


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("change,path", [
    ({"table_rows": [100, -5]}, "table_rows[1]"),
    ({"pooling": [1, 2, 3]}, "pooling"),
    ({"zipf_alpha": float("nan")}, "zipf_alpha"),
    ({"zipf_alpha": float("inf")}, "zipf_alpha"),
    ({"emb_dtype": "fp17"}, "emb_dtype"),
    ({"interaction": "concat"}, "interaction"),
    ({"batch": 0}, "batch"),
    ({"batch": True}, "batch"),
    ({"devices": 32}, "devices"),
    ({"emb_dim": 8}, "emb_dim"),
    ({"table_rows": []}, "table_rows"),
    ({"table_rows": "lots"}, "table_rows"),
    ({"table_rows": [2 ** 50]}, "table_rows"),
    ({"optimizer": "lamb"}, "optimizer"),
    ({"tables": 3}, "tables"),
])
def test_bad_params_name_the_key(change, path):
    with pytest.raises(SpecError) as e:
        build_dlrm(**{**SMALL, **change})
    assert path in [p.path for p in e.value.problems]


def test_comma_separated_lists_from_set():
    wl = build_dlrm(**{**SMALL, "pooling": "2,5"})
    assert dict(wl.params)["pooling"] == [2, 5]


def _ids_error(tmp_path, arr=None, raw=None, rows=100):
    f = tmp_path / "ids.npy"
    if raw is not None:
        f.write_bytes(raw)
    else:
        np.save(f, arr, allow_pickle=True)
    with pytest.raises(SpecError) as e:
        build_dlrm(**{**SMALL, "index_files": [str(f), None]})
    return str(e.value)


def test_index_file_drives_the_table(tmp_path):
    f = tmp_path / "ids.npy"
    np.save(f, np.arange(50) % 7)
    wl = build_dlrm(**{**SMALL, "index_files": [str(f), None]})
    acc = ops_by_name(wl)["emb_0"].access
    assert acc.distribution == "file" and len(acc.ids) == 50
    # two devices: device 0 serves the even ids as its local rows id // 2 (0, 2, 4, 6 -> 0, 1, 2, 3)
    two = ops_by_name(build_dlrm(**{**SMALL, "index_files": [str(f), None], "devices": 2}))["emb_0"].access
    assert list(two.ids.ids[:4]) == [0, 1, 2, 3] and two.table_rows == 50
    link = tmp_path / "link.npy"
    os.symlink(f, link)     # a link to a regular file is fine
    assert ops_by_name(build_dlrm(**{**SMALL, "index_files": [str(link), None]}))["emb_0"].access.ids == acc.ids


@pytest.mark.parametrize("arr,expected", [
    (np.array([1.5, 2.0]), "integer row ids"),
    (np.array([1, 100]), "row ids in [0, 100)"),
    (np.array([-1, 3]), "row ids in [0, 100)"),
    (np.zeros((2, 2), int), "a non-empty 1-D array"),
    (np.zeros(0, int), "a non-empty 1-D array"),
    (np.array([{"a": 1}], dtype=object), "without pickled objects"),
])
def test_bad_index_files(tmp_path, arr, expected):
    assert expected in _ids_error(tmp_path, arr)


def test_index_file_not_npy_or_special(tmp_path, monkeypatch):
    assert "without pickled objects" in _ids_error(tmp_path, raw=b"not an npy file at all")
    with pytest.raises(SpecError, match="regular"):
        build_dlrm(**{**SMALL, "index_files": [str(tmp_path), None]})
    fifo = tmp_path / "fifo.npy"
    os.mkfifo(fifo)
    with pytest.raises(SpecError, match="regular"):   # refused without opening (would block)
        build_dlrm(**{**SMALL, "index_files": [str(fifo), None]})
    with pytest.raises(SpecError, match="existing"):
        build_dlrm(**{**SMALL, "index_files": [str(tmp_path / "none.npy"), None]})
    loop = tmp_path / "loop.npy"
    os.symlink(loop, loop)
    with pytest.raises(SpecError, match="existing"):
        build_dlrm(**{**SMALL, "index_files": [str(loop), None]})
    from roofsim.ops import indices
    monkeypatch.setattr(indices, "MAX_FILE_BYTES", 64)
    big = tmp_path / "big.npy"
    np.save(big, np.zeros(100, np.int64))
    with pytest.raises(SpecError, match="at most 64 bytes"):
        build_dlrm(**{**SMALL, "index_files": [str(big), None]})


def test_dlrm_paper_reference_configs():
    kaggle = dict(get_workload("dlrm-kaggle").params)
    # Criteo Kaggle per-feature counts sum to 33,762,577 rows of dimension 16 (DLRM loader)
    assert sum(kaggle["table_rows"]) == 33_762_577 and kaggle["embedding_parameters"] == 33_762_577 * 16
    # dot interaction over 27 vectors of 16: 16 + 27*26/2 = 367 features into the 512-256-1 top MLP
    assert kaggle["interaction_width"] == 367
    bench = dict(get_workload("dlrm-benchmark").params)
    # 8 tables x 1M rows x 64 = 512M embedding parameters; 8 x 100 lookups per sample
    assert bench["embedding_parameters"] == 512_000_000 and bench["lookups_per_sample"] == 800


def test_production_scale_config_has_hundreds_of_gb_of_tables():
    full = dict(get_workload("dlrm-criteo-full").params)
    # uncapped Criteo 1TB: 882,774,559 rows x 128 fp32 = 452.0 GB
    assert sum(full["table_rows"]) == 882_774_559
    assert full["embedding_bytes"] == 882_774_559 * 512
