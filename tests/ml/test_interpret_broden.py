"""Reading Broden-format directories (the original layout and the Action Regions export) and merging them."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ml.interpret.broden import BrodenError, load_broden, merge_broden, read_broden
from ml.interpret.synthetic import write_planted_broden


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def rg(numbers: np.ndarray) -> Image.Image:
    rgb = np.zeros((*numbers.shape, 3), dtype=np.uint8)
    rgb[..., 0], rgb[..., 1] = numbers % 256, numbers // 256
    return Image.fromarray(rgb)


@pytest.fixture
def original(tmp_path: Path) -> Path:
    """A miniature broden1_224: object/part pixel masks (two part layers), scene and texture as integers."""
    root = tmp_path / "broden1_224"
    images = root / "images" / "ade20k"
    images.mkdir(parents=True)
    write_csv(root / "category.csv", ["name", "first", "last", "count", "frequency"],
              [["color", 1, 1, 1, 2], ["object", 2, 300, 3, 2], ["part", 4, 5, 2, 1], ["scene", 6, 6, 1, 2],
               ["texture", 7, 8, 2, 1]])
    write_csv(root / "label.csv", ["number", "name", "category", "frequency", "coverage", "syns"], [
        [1, "red-c", "color(2)", 2, "0.5", ""],
        [2, "car", "object(2)", 2, "0.3", "automobile"],
        [4, "wheel", "object(3);part(10)", 3, "0.2", ""],  # in two categories; part covers more
        [5, "door", "object(4);part(4)", 1, "0.1", ""],  # equal coverage: the later category wins
        [6, "street", "scene(2)", 2, "2.0", ""],
        [7, "striped", "texture(1)", 1, "1.0", ""],
        [8, "dotted", "texture(1)", 1, "1.0", ""],
        [300, "sky", "object(2)", 2, "0.4", ""],  # beyond 255: the green channel
    ])
    write_csv(root / "c_object.csv", ["code", "number", "name", "frequency", "coverage"],
              [[1, 2, "car", 2, "0.3"], [2, 300, "sky", 2, "0.4"], [3, 4, "wheel", 3, "0.05"],
               [4, 5, "door", 1, "0.1"]])
    write_csv(root / "c_part.csv", ["code", "number", "name", "frequency", "coverage"],
              [[1, 4, "wheel", 3, "0.15"], [2, 5, "door", 1, "0.1"]])
    write_csv(root / "c_scene.csv", ["code", "number", "name", "frequency", "coverage"], [[1, 6, "street", 2, "2.0"]])
    write_csv(root / "c_texture.csv", ["code", "number", "name", "frequency", "coverage"],
              [[1, 7, "striped", 1, "1.0"], [2, 8, "dotted", 1, "1.0"]])
    obj = np.zeros((4, 4), dtype=np.int64)
    obj[:2] = 300
    obj[2:, :2] = 2
    rg(obj).save(images / "a_object.png")
    part1 = np.zeros((4, 4), dtype=np.int64)
    part1[3, 0] = 4
    rg(part1).save(images / "a_part_1.png")
    part2 = np.zeros((4, 4), dtype=np.int64)
    part2[3, 0:2] = 5  # overlaps wheel at (3, 0): a second layer
    rg(part2).save(images / "a_part_2.png")
    Image.fromarray(np.full((2, 2), 2, dtype=np.uint8), mode="L").save(images / "b_object.png")  # L mode, half size
    for stem in ("a", "b", "c"):
        Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(images / f"{stem}.jpg")
    write_csv(root / "index.csv", ["image", "split", "ih", "iw", "sh", "sw", "color", "object", "part", "scene",
                                   "texture"], [
        ["ade20k/a.jpg", "train", 8, 8, 4, 4, "", "ade20k/a_object.png", "ade20k/a_part_1.png;ade20k/a_part_2.png",
         "6", "7;8"],
        ["ade20k/b.jpg", "val", 8, 8, 4, 4, "", "ade20k/b_object.png", "", "6", ""],
        ["ade20k/c.jpg", "train", 8, 8, 4, 4, "1", "", "", "", ""],
    ])
    return root


def test_original_layout(original: Path):
    data = read_broden(original)
    assert data.sources == ("broden1_224",)
    assert data.categories == ("color", "object", "part", "scene", "texture")
    by_name = {label.name: label for label in data.labels if label.name}
    assert by_name["car"].category == "object" and by_name["sky"].number == 300
    assert by_name["wheel"].category == "part" and by_name["wheel"].categories == ("object", "part")
    assert by_name["door"].category == "part"  # tie in coverage -> the later category, as NetDissect
    assert data.labels[3].name == "" and data.labels[3].category == ""  # a gap in the numbering
    assert data.num_labels == 301
    first, second, third = data.images
    assert first.path == original / "images" / "ade20k" / "a.jpg" and (first.sh, first.sw, first.ih) == (4, 4, 8)
    seg = data.segmentation(first)
    assert seg.labels.tolist() == [2, 4, 5, 300]
    masks = dict(zip(seg.labels.tolist(), seg.masks, strict=True))
    assert masks[300][:2].all() and masks[300].sum() == 8
    assert masks[2].sum() == 4 and masks[4].sum() == 1 and masks[5].sum() == 2
    assert masks[4][3, 0] and masks[5][3, 0]  # overlapping layers: both labels keep the pixel
    assert seg.scalars.tolist() == [6, 7, 8]
    assert [data.categories[c] for c in seg.categories] == ["object", "part", "scene", "texture"]
    seg_b = data.segmentation(second)
    assert seg_b.labels.tolist() == [2] and seg_b.masks.shape == (1, 4, 4) and seg_b.masks.all()  # resized, L mode
    assert [data.categories[c] for c in data.segmentation(third).categories] == ["color"]
    assert data.read_image(first).shape == (8, 8, 3) and data.read_image(first, size=(16, 12)).shape == (16, 12, 3)
    categories = data.label_categories()
    assert categories[2] == data.categories.index("object") and categories[3] == -1 and categories[0] == -1


def test_category_and_split_filters(original: Path):
    data = read_broden(original, categories=["object", "scene"])
    assert data.categories == ("object", "scene")
    assert len(data) == 2  # image c has only a colour annotation
    assert data.labels[4].category == "object"  # wheel: part not loaded, so object is primary
    assert data.labels[7].category == ""  # texture not loaded
    seg = data.segmentation(data.images[0])
    assert seg.labels.tolist() == [2, 300] and seg.scalars.tolist() == [6]  # part layers and texture ignored
    assert [i.split for i in read_broden(original, splits=["val"]).images] == ["val"]
    with pytest.raises(BrodenError, match="unknown categories"):
        read_broden(original, categories=["action"])


def test_malformed_directories(original: Path, tmp_path: Path):
    with pytest.raises(BrodenError, match="not a directory"):
        read_broden(tmp_path / "nowhere")
    (original / "label.csv").rename(original / "labels.csv")
    with pytest.raises(BrodenError, match="label.csv is missing"):
        read_broden(original)
    (original / "labels.csv").rename(original / "label.csv")
    write_csv(original / "index.csv", ["image", "split", "ih", "iw", "object"], [["x.jpg", "train", 8, 8, ""]])
    with pytest.raises(BrodenError, match="header must include"):
        read_broden(original)
    write_csv(original / "index.csv", ["image", "split", "ih", "iw", "sh", "sw", "object"],
              [["x.jpg", "train", 8, "eight", 4, 4, "ade20k/a_object.png"]])
    with pytest.raises(BrodenError, match="line 2: bad iw 'eight'"):
        read_broden(original)


@pytest.mark.parametrize("offset", [0, 298])
def test_action_export_merges_with_labels_renumbered(tmp_path: Path, offset: int):
    broden = write_planted_broden(tmp_path / "broden", kind="broden", images=6)
    actions = write_planted_broden(tmp_path / "actions", kind="actions", images=4, label_offset=offset)
    alone = read_broden(actions.root)
    assert alone.categories == ("action",) and alone.labels[offset + 1].name == "waving"
    merged = load_broden([broden.root, actions.root], names=["broden", "action_regions"])
    assert merged.sources == ("broden", "action_regions")
    assert merged.categories == ("object", "scene", "action")
    assert [(label.number, label.name, label.category, label.source) for label in merged.labels[1:]] == [
        (1, "red_box", "object", 0), (2, "green_box", "object", 0), (3, "marked", "scene", 0),
        (4, "plain", "scene", 0), (5, "waving", "action", 1), (6, "idle", "action", 1)]
    assert len(merged) == 10 and [i.index for i in merged.images] == list(range(10))
    assert [i.source for i in merged.images] == [0] * 6 + [1] * 4
    for n in range(4):  # masks read in the merged numbering, both layers
        seg = merged.segmentation(merged.images[6 + n])
        masks = dict(zip(seg.labels.tolist(), seg.masks, strict=True))
        assert np.array_equal(masks[5], actions.masks["waving"][n])
        assert np.array_equal(masks[6], actions.masks["idle"][n])
        assert seg.scalars.size == 0 and [merged.categories[c] for c in seg.categories] == ["action"]
    for n in range(6):
        seg = merged.segmentation(merged.images[n])
        assert seg.scalars.tolist() == [3 if n % 3 == 0 else 4]
        masks = dict(zip(seg.labels.tolist(), seg.masks, strict=True))
        assert np.array_equal(masks[1], broden.masks["red_box"][n])


def test_merging_renumbers_image_level_labels_and_refuses_clashes(original: Path, tmp_path: Path):
    planted = write_planted_broden(tmp_path / "planted", kind="broden", images=3)
    merged = merge_broden([read_broden(original, categories=["object", "part", "texture"]),
                           read_broden(planted.root, categories=["scene"])])
    scene = {label.name: label.number for label in merged.labels if label.category == "scene"}
    assert scene == {"marked": 303, "plain": 304}  # after broden's 300, in their old order (red 301, green 302)
    first_planted = merged.images[2]
    assert merged.segmentation(first_planted).scalars.tolist() == [303]
    with pytest.raises(BrodenError, match="category 'object' is in both"):
        merge_broden([read_broden(original), read_broden(planted.root)])
    with pytest.raises(BrodenError, match="unknown categories"):
        load_broden([original, planted.root], categories=["object", "verb"])
    parts = load_broden([original, planted.root], categories=["part"])  # the planted set has no parts
    assert parts.categories == ("part",) and len(parts) == 1 and parts.sources == ("broden1_224", "planted")


def test_select_keeps_a_subset_reindexed(tmp_path: Path):
    data = read_broden(write_planted_broden(tmp_path / "b", images=5).root)
    subset = data.select(data.images[2:4])
    assert [i.index for i in subset.images] == [0, 1] and subset.images[0].path == data.images[2].path
