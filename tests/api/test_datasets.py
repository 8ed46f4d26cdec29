"""Datasets: importing mnist.npz and zips, reviewing samples, sprite sheets, exporting."""

import base64
import io
import zipfile
from collections import Counter

import numpy as np
import pytest

from tests.api.datafiles import decode_png, load_npz, mnist_npz, npz_of, png, random_digits, upload_npz, zip_of

DIGITS = [str(d) for d in range(10)]


@pytest.fixture
def project(alice, make_project):
    return make_project(alice)


def summary(client, user, project_id) -> dict:
    response = client.get(f"/api/projects/{project_id}/dataset", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


def counts(client, user, project_id, field="included") -> dict[str, int]:
    return {entry["label"]: entry[field] for entry in summary(client, user, project_id)["labels"] if entry[field]}


def cells(client, user, project_id, **params) -> dict:
    response = client.get(f"/api/projects/{project_id}/dataset/cells", headers=user.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def patch_cell(client, user, project_id, cell_id, body):
    return client.patch(f"/api/projects/{project_id}/dataset/cells/{cell_id}", json=body, headers=user.headers)


def export(client, user, project_id, **params):
    return client.get(f"/api/projects/{project_id}/dataset/export", headers=user.headers, params=params)


def test_import_mnist_npz(client, alice, project):
    y_train, y_test = [0, 1, 1, 2, 9, 9, 9], [3, 3, 0]
    response = upload_npz(client, alice, project["id"], mnist_npz(y_train, y_test))
    assert response.status_code == 201, response.text
    assert response.json() == {"imported": 10, "per_label": {"0": 2, "1": 2, "2": 1, "3": 2, "9": 3}}
    body = summary(client, alice, project["id"])
    assert body["total"] == 10
    assert [entry["label"] for entry in body["labels"]] == DIGITS
    assert counts(client, alice, project["id"]) == {"0": 2, "1": 2, "2": 1, "3": 2, "9": 3}
    assert client.get(f"/api/projects/{project['id']}", headers=alice.headers).json()["sample_count"] == 10


def test_import_npz_uses_the_projects_own_labels(client, alice, make_project):
    project = make_project(alice, labels=list("abcdefghij"))
    response = upload_npz(client, alice, project["id"], mnist_npz([0, 0, 4]))
    assert response.status_code == 201, response.text
    assert counts(client, alice, project["id"]) == {"a": 2, "e": 1}


def test_import_npz_with_float_images(client, alice, project):
    x = random_digits(3).astype(np.float32) / 255.0
    response = upload_npz(client, alice, project["id"], npz_of(x_train=x, y_train=np.array([1, 2, 3])))
    assert response.status_code == 201, response.text
    exported = load_npz(export(client, alice, project["id"], test_fraction=0).content)
    assert exported["x_train"].dtype == np.uint8
    assert np.abs(exported["x_train"].astype(int) - random_digits(3).astype(int)).max() <= 1


def _npz_with_header(shape: tuple, payload: bytes) -> bytes:
    """An npz whose x_train.npy header claims `shape` but holds only `payload` (y_train is fine)."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": shape})
    labels = io.BytesIO()
    np.save(labels, np.array([1, 2], np.uint8))
    return zip_of({"x_train.npy": header.getvalue() + payload, "y_train.npy": labels.getvalue()})


def _square(side: int, ink_bright: bool) -> np.ndarray:
    """A bar of ink in the middle of a side x side image, bright-on-dark or dark-on-white."""
    image = np.zeros((side, side), np.uint8)
    image[side // 4: side * 3 // 4, side * 2 // 5: side * 3 // 5] = 255
    return image if ink_bright else 255 - image


def test_import_zip_of_pngs(client, alice, project):
    members = {
        "3_0.png": png(_square(28, ink_bright=True)),          # MNIST style, already 28x28
        "3_1.png": png(_square(60, ink_bright=False)),         # dark pen on white paper, larger
        "digits/7_12.png": png(_square(100, ink_bright=False)[:, :70]),  # in a folder, not square
        "7_5.PNG": png(_square(40, ink_bright=True)),
        "readme.txt": b"ignored",
    }
    response = client.post(f"/api/projects/{project['id']}/dataset/import", headers=alice.headers,
                           files={"file": ("samples.zip", zip_of(members), "application/zip")})
    assert response.status_code == 201, response.text
    assert response.json() == {"imported": 4, "per_label": {"3": 2, "7": 2}}
    assert counts(client, alice, project["id"]) == {"3": 2, "7": 2}
    # Whatever the polarity and size of the PNG, the sample is MNIST-like: 28x28, ink bright, border dark.
    exported = load_npz(export(client, alice, project["id"], test_fraction=0).content)
    x = exported["x_train"]
    assert x.shape == (4, 28, 28)
    for sample in x:
        assert sample[13:15, 13:15].min() > 128, sample
        assert sample[0].max() == 0 and sample[-1].max() == 0 and sample[:, 0].max() == 0


def test_import_zip_made_with_macos_finder(client, alice, project):
    """Finder's "Compress" adds __MACOSX/._<name> resource files next to every entry; they are not samples."""
    apple_double = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(60)
    members = {
        "digits/3_0.png": png(_square(28, ink_bright=True)),
        "digits/4_0.png": png(_square(28, ink_bright=True)),
        "__MACOSX/digits/._3_0.png": apple_double,
        "__MACOSX/digits/._4_0.png": apple_double,
        "digits/.DS_Store": bytes(64),
    }
    response = client.post(f"/api/projects/{project['id']}/dataset/import", headers=alice.headers,
                           files={"file": ("digits.zip", zip_of(members), "application/zip")})
    assert response.status_code == 201, response.text
    assert response.json() == {"imported": 2, "per_label": {"3": 1, "4": 1}}


def _with_a_flipped_byte(data: bytes, inside: bytes) -> bytes:
    """`data` with one byte changed in the middle of where `inside` is stored: the entry's CRC no longer matches."""
    at = data.index(inside) + len(inside) // 2
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


def _zip_with_corrupt_deflate_data() -> bytes:
    """A zip whose PNG entry's compressed data is garbage (zlib cannot unpack it)."""
    image = png(_square(60, ink_bright=False))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("3_0.png", image)
    data = out.getvalue()
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("3_0.png")
    start = info.header_offset + 30 + len(info.filename)  # local header, name, no extra field
    return data[:start] + b"\xff" * info.compress_size + data[start + info.compress_size:]


_FLOATS = random_digits(2).astype(np.float32)
_BAD_PIXELS = {"NaN": np.where(random_digits(2) > 100, np.nan, _FLOATS),
               "infinite": np.where(random_digits(2) > 100, np.inf, _FLOATS)}

BAD_IMPORTS = {
    "not a zip": b"this is not a zip file at all" * 10,
    "png instead of a dataset": png(_square(28, True)),
    "npz without y_train": npz_of(x_train=random_digits(3)),
    "npz with x_test but no y_test": npz_of(x_train=random_digits(2), y_train=np.array([1, 2]),
                                            x_test=random_digits(1)),
    "label out of range": mnist_npz([1, 2, 10]),
    "negative label": npz_of(x_train=random_digits(2), y_train=np.array([1, -1])),
    "wrong image shape": npz_of(x_train=np.zeros((2, 32, 32), np.uint8), y_train=np.array([1, 2])),
    "fewer labels than images": npz_of(x_train=random_digits(3), y_train=np.array([1, 2])),
    "float labels": npz_of(x_train=random_digits(2), y_train=np.array([1.5, 2.0])),
    "zip entry with unknown label": zip_of({"3_0.png": png(_square(28, True)), "x_1.png": png(_square(28, True))}),
    "zip without samples": zip_of({"notes.txt": b"hello"}),
    "zip with a broken png": zip_of({"3_0.png": png(_square(28, True))[:40]}),
    "npz with a cut-off array": _npz_with_header((10, 28, 28), bytes(2 * 28 * 28)),
    "npz claiming a 78 GB array": _npz_with_header((10**8, 28, 28), bytes(2 * 28 * 28)),
    "pickled labels": npz_of(x_train=random_digits(2), y_train=np.array([1, "2"], dtype=object)),
    "pickled images": npz_of(x_train=np.array([random_digits(1)[0], None], dtype=object), y_train=np.array([1, 2])),
    # Pixels that make no sense, and dtypes that are no pixels at all (issue 8, points 6 and 10).
    "NaN pixels": npz_of(x_train=_BAD_PIXELS["NaN"], y_train=np.array([1, 2])),
    "infinite pixels": npz_of(x_train=_BAD_PIXELS["infinite"], y_train=np.array([1, 2])),
    "complex pixels": npz_of(x_train=random_digits(2).astype(np.complex64), y_train=np.array([1, 2])),
    "boolean pixels": npz_of(x_train=random_digits(2) > 100, y_train=np.array([1, 2])),
    "pixels over 255": npz_of(x_train=random_digits(2).astype(np.int32) * 4, y_train=np.array([1, 2])),
    "negative pixels": npz_of(x_train=random_digits(2).astype(np.float32) - 128, y_train=np.array([1, 2])),
    "string pixels": npz_of(x_train=np.full((2, 28, 28), "7"), y_train=np.array([1, 2])),
    "datetime pixels": npz_of(x_train=np.zeros((2, 28, 28), "datetime64[s]"), y_train=np.array([1, 2])),
    "structured pixels": npz_of(x_train=np.zeros((2, 28, 28), [("ink", "u1"), ("paper", "u1")]),
                                y_train=np.array([1, 2])),
    "string labels": npz_of(x_train=random_digits(2), y_train=np.array(["1", "2"])),
    "boolean labels": npz_of(x_train=random_digits(2), y_train=np.array([True, False])),
    "npz with a bad CRC": _with_a_flipped_byte(npz_of(x_train=random_digits(3), y_train=np.array([1, 2, 3])),
                                               random_digits(3).tobytes()),
    "zip with a bad-CRC member": _with_a_flipped_byte(zip_of({"3_0.png": png(_square(60, False))}),
                                                      png(_square(60, False))[40:]),
    "zip with a corrupt member": _zip_with_corrupt_deflate_data(),
    "npz without samples": npz_of(x_train=np.zeros((0, 28, 28), np.uint8), y_train=np.zeros(0, np.uint8)),
}


@pytest.mark.parametrize("case", list(BAD_IMPORTS))
def test_bad_import_is_refused_and_adds_nothing(client, alice, project, case):
    response = upload_npz(client, alice, project["id"], BAD_IMPORTS[case], name="upload.bin")
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "bad_dataset_file" and len(body["detail"]) > 15
    assert summary(client, alice, project["id"])["total"] == 0


def test_paged_cells(client, alice, project):
    upload_npz(client, alice, project["id"], mnist_npz([5] * 20 + [6] * 5))
    page = cells(client, alice, project["id"], offset=20, limit=10)
    assert (page["total"], page["offset"], page["limit"]) == (25, 20, 10)
    assert len(page["items"]) == 5
    first = cells(client, alice, project["id"], offset=0, limit=10)
    ids = [c["id"] for c in first["items"]] + [c["id"] for c in cells(client, alice, project["id"], offset=10, limit=10)["items"]]
    assert len(set(ids + [c["id"] for c in page["items"]])) == 25
    sixes = cells(client, alice, project["id"], label="6")
    assert sixes["total"] == 5 and {c["label"] for c in sixes["items"]} == {"6"}
    item = first["items"][0]
    assert item["included"] is True and item["source"] == "import"
    assert item["image"].startswith("data:image/png;base64,")
    image = decode_png(base64.b64decode(item["image"].split(",", 1)[1]))
    assert image.shape[:2] == (28, 28)
    # Shown as dark ink on white paper.
    assert image[0, 0] == 255 and image[14, 14] < 255

    png_response = client.get(f"/api/projects/{project['id']}/dataset/cells/{item['id']}/image.png", headers=alice.headers)
    assert png_response.status_code == 200 and png_response.headers["content-type"] == "image/png"
    assert np.array_equal(decode_png(png_response.content), image)


def test_paged_cells_bad_parameters(client, alice, project):
    url = f"/api/projects/{project['id']}/dataset/cells"
    for params in [{"limit": 0}, {"limit": 5000}, {"offset": -1}, {"which": "everything"}, {"label": "nope"}]:
        response = client.get(url, headers=alice.headers, params=params)
        assert response.status_code == 422, params
        assert response.json()["detail"]


def test_exclude_include_and_relabel(client, alice, project):
    upload_npz(client, alice, project["id"], mnist_npz([3, 3, 3, 8]))
    cell_id = cells(client, alice, project["id"], label="3")["items"][0]["id"]

    excluded = patch_cell(client, alice, project["id"], cell_id, {"included": False})
    assert excluded.status_code == 200, excluded.text
    assert excluded.json()["included"] is False
    assert counts(client, alice, project["id"]) == {"3": 2, "8": 1}
    assert counts(client, alice, project["id"], "excluded") == {"3": 1}
    assert [c["id"] for c in cells(client, alice, project["id"], which="excluded")["items"]] == [cell_id]
    assert cell_id not in [c["id"] for c in cells(client, alice, project["id"])["items"]]
    assert export(client, alice, project["id"], test_fraction=0).status_code == 200
    assert len(load_npz(export(client, alice, project["id"], test_fraction=0).content)["y_train"]) == 3

    included = patch_cell(client, alice, project["id"], cell_id, {"included": True})
    assert included.json()["included"] is True
    assert counts(client, alice, project["id"]) == {"3": 3, "8": 1}

    relabelled = patch_cell(client, alice, project["id"], cell_id, {"label": "5"})
    assert relabelled.status_code == 200
    assert relabelled.json()["label"] == "5" and relabelled.json()["original_label"] == "3"
    assert counts(client, alice, project["id"]) == {"3": 2, "5": 1, "8": 1}

    unknown = patch_cell(client, alice, project["id"], cell_id, {"label": "Z"})
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_label"
    assert counts(client, alice, project["id"]) == {"3": 2, "5": 1, "8": 1}


def test_unknown_cell_is_404(client, alice, project):
    url = f"/api/projects/{project['id']}/dataset/cells/999999"
    assert patch_cell(client, alice, project["id"], 999999, {"included": False}).status_code == 404
    assert client.get(url + "/image.png", headers=alice.headers).status_code == 404


def test_sprite_sheet_per_label_grows_with_the_samples(client, alice, project):
    upload_npz(client, alice, project["id"], mnist_npz([1] * 3 + [2] * 45))
    sizes = {}
    for index in (1, 2):
        response = client.get(f"/api/projects/{project['id']}/dataset/sheets/{index}.png", headers=alice.headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/png"
        sizes[index] = decode_png(response.content).shape[:2]
    (h1, w1), (h2, w2) = sizes[1], sizes[2]
    assert h2 > h1 and w2 >= w1
    assert h1 >= 28 and w1 >= 3 * 28
    assert h2 * w2 >= 45 * 28 * 28
    narrow = client.get(f"/api/projects/{project['id']}/dataset/sheets/2.png", headers=alice.headers,
                        params={"columns": 5})
    nh, nw = decode_png(narrow.content).shape[:2]
    assert nw < w2 and nh > h2
    assert client.get(f"/api/projects/{project['id']}/dataset/sheets/10.png", headers=alice.headers).status_code == 404


def test_sprite_sheet_of_a_label_without_samples(client, alice, project):
    upload_npz(client, alice, project["id"], mnist_npz([1, 1]))
    response = client.get(f"/api/projects/{project['id']}/dataset/sheets/4.png", headers=alice.headers)
    # An empty sheet or a clear "no samples" answer are both fine; a server error is not.
    assert response.status_code in (200, 404, 422), response.text
    if response.status_code == 200:
        assert decode_png(response.content).size > 0
    else:
        assert response.json()["detail"]


def test_export_npz_round_trips(client, alice, make_project):
    labels = ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"]
    project = make_project(alice, labels=labels)
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 7, 7, 7, 7, 9, 9, 9, 9], dtype=np.uint8)
    data = mnist_npz(y[:12], y[12:], seed=4)
    upload_npz(client, alice, project["id"], data)
    source = load_npz(data)
    response = export(client, alice, project["id"], format="npz", test_fraction=0.25, seed=3)
    assert response.status_code == 200, response.text
    out = load_npz(response.content)
    assert {"x_train", "y_train", "x_test", "y_test"} <= set(out)
    assert out["x_train"].dtype == np.uint8 and out["x_train"].shape[1:] == (28, 28)
    assert len(out["x_train"]) == len(out["y_train"]) and len(out["x_test"]) == len(out["y_test"])
    assert len(out["y_test"]) == 4  # a quarter of each of the four labels
    assert sorted(out["y_test"].tolist()) == [0, 1, 7, 9]
    assert list(out["labels"]) == labels
    # Every sample comes back with its label (as a multiset of (image, label) pairs).
    sent = Counter((img.tobytes(), int(lab)) for img, lab in zip(np.concatenate([source["x_train"], source["x_test"]]),
                                                               np.concatenate([source["y_train"], source["y_test"]])))
    got = Counter((img.tobytes(), int(lab)) for img, lab in zip(np.concatenate([out["x_train"], out["x_test"]]),
                                                              np.concatenate([out["y_train"], out["y_test"]])))
    assert got == sent
    # The same seed gives the same split; the file can be imported again.
    assert export(client, alice, project["id"], test_fraction=0.25, seed=3).content == response.content
    again = make_project(alice, "again", labels=labels)
    assert upload_npz(client, alice, again["id"], response.content).json()["imported"] == 16


def test_export_zip(client, alice, make_project):
    project = make_project(alice, labels=list("abcdefghij"))
    upload_npz(client, alice, project["id"], mnist_npz([0, 0, 2, 9]))
    response = export(client, alice, project["id"], format="zip")
    assert response.status_code == 200, response.text
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = sorted(archive.namelist())
    assert names == ["a_0.png", "a_1.png", "c_0.png", "j_0.png"]
    for name in names:
        assert decode_png(archive.read(name)).shape[:2] == (28, 28)
    again = make_project(alice, "again", labels=list("abcdefghij"))
    reimported = client.post(f"/api/projects/{again['id']}/dataset/import", headers=alice.headers,
                             files={"file": ("x.zip", response.content, "application/zip")})
    assert reimported.json() == {"imported": 4, "per_label": {"a": 2, "c": 1, "j": 1}}


def test_export_of_an_empty_dataset_is_refused(client, alice, project):
    for fmt in ("npz", "zip"):
        response = export(client, alice, project["id"], format=fmt)
        assert response.status_code == 422
        assert response.json()["code"] == "empty_dataset"
    assert export(client, alice, project["id"], format="csv").status_code == 422


def test_the_same_data_set_is_imported_once(client, alice, project, make_project):
    """Three imports of one npz once gave three copies of every sample (and a test accuracy of 1.0 with copies
    on both sides of the split): the same samples are recognised, however the file was saved."""
    data = mnist_npz([0, 1, 1, 2], [3])
    assert upload_npz(client, alice, project["id"], data).status_code == 201
    again = upload_npz(client, alice, project["id"], data, name="copy of mnist.npz")
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "duplicate_import" and "mnist.npz" in again.json()["detail"]
    arrays = load_npz(data)
    recompressed = io.BytesIO()
    np.savez_compressed(recompressed, **{key: arrays[key] for key in reversed(list(arrays))})
    assert recompressed.getvalue() != data
    assert upload_npz(client, alice, project["id"], recompressed.getvalue()).status_code == 409
    assert summary(client, alice, project["id"])["total"] == 5
    # Other samples are a new data set; another project may hold the same one.
    assert upload_npz(client, alice, project["id"], mnist_npz([0, 1, 1, 2], [3], seed=7)).status_code == 201
    assert upload_npz(client, alice, make_project(alice, "other")["id"], data).status_code == 201


def test_cells_offset_and_export_seed_out_of_range_are_4xx(client, alice, project):
    """offset=10^30 overflowed SQLite's integers (500; PostgreSQL refuses any offset >= 2^63), seed=-1 crashed
    numpy's generator: both are bounded in the query's schema."""
    upload_npz(client, alice, project["id"], mnist_npz([1, 2, 3]))
    url = f"/api/projects/{project['id']}/dataset"
    for offset in (10**30, 2**63, 2**31):
        response = client.get(f"{url}/cells", params={"offset": offset}, headers=alice.headers)
        assert response.status_code == 422, (offset, response.text)
        assert response.json()["code"] == "validation_error" and "offset" in response.json()["detail"]
    assert cells(client, alice, project["id"], offset=2**31 - 1)["items"] == []
    for seed in (-1, 2**32, 10**30):
        response = export(client, alice, project["id"], seed=seed)
        assert response.status_code == 422, (seed, response.text)
        assert response.json()["code"] == "validation_error" and "seed" in response.json()["detail"]
    assert export(client, alice, project["id"], seed=2**32 - 1).status_code == 200

