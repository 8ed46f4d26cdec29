"""Every threshold of the extraction pipeline, named, with the reason for its value.

Sizes are relative to a cell where they can be, so the pipeline behaves the same at 150, 300 or 600 dpi
and on phone photos. Darkness values are 0..255 (0 = paper, 255 = black) after flat-fielding.

Cell decisions (CellResult.status / reason):
  kept      reason None         a written sample
  blank     reason "empty"      no ink at all (after ignoring 1-2 px noise)
  rejected  reason "speck"      only tiny marks: a dot, a pen touch-down, dust
            reason "too_faint"  ink much lighter than on the rest of the page: erased pencil, show-through
            reason "scribble"   too much ink for one sample: filled or crossed-out cell, a stroke across cells
"""

# --- reasons (the fixed vocabulary the service stores and the frontend translates) ---
REASON_EMPTY = "empty"
REASON_SPECK = "speck"
REASON_FAINT = "too_faint"
REASON_SCRIBBLE = "scribble"
REJECT_REASONS = (REASON_SPECK, REASON_FAINT, REASON_SCRIBBLE)

# --- decoding for the extraction (decode.py's reduce_to_long_side, used by the service) ---
DECODE_MIN_LONG_SIDE = 1750  # px; a JPEG page is decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling, ~30 %
#                              cheaper than decoding it whole) while its long side stays >= this: an A4 page at
#                              >= 150 dpi, whose cells are >= 47 px (legacy 9 mm: 53 px), about the rectified
#                              CELL_PX, so the rectification loses (almost) nothing it would otherwise use, and the
#                              golden tests go down to 90 dpi. Detection copies are the same at either scale
#                              (DETECT_LONG_SIDE), and the preview too. A 300-dpi scan is read at 150 dpi, a 600-dpi
#                              one at 150 dpi, a 12-megapixel phone photo at half size; 200-dpi scans and smaller
#                              photos whole

# --- detection (finding the grid on a small copy of the page) ---
DETECT_LONG_SIDE = 1600  # the detection copy (a power-of-two shrink, for speed) has its long side in
#                          [800, 1600): cells stay >= ~15 px even in a phone photo, and the whole search
#                          (flat-field, threshold, contours) costs a few ms
FLAT_BLOCK = 4  # flat-field works on a 1/4 copy: the paper estimate is smooth, so this loses nothing
DETECT_FLAT_KERNEL = 7  # max-filter size on the 1/4 copy (28 px at detection scale ~ one cell): wider than
#                         any stroke or line, so the filter sees paper everywhere
GRID_DARK_MIN = 26  # binarisation floor for the grid (~0.10): faint 1 px lines after downscaling still pass
GRID_DARK_MAX = 60  # ceiling (~0.24): a textured table in a photo (noisy after flat-fielding) cannot
#                     push the threshold above thin, far-away grid lines
GRID_DARK_MIN_SENSITIVE = 12  # second attempt's floor, for very thin lines on a clean page (~0.05) ...
GRID_DARK_MAX_SENSITIVE = 40  # ... and ceiling, for thin lines in a noisy photo (noise then adds specks
#                               inside cells, which do not break the grid's topology)
NOISE_SIGMAS = 6.0  # threshold = paper median + this many robust sigmas: JPEG/sensor noise stays paper
NOISE_SIGMAS_SENSITIVE = 4.0  # second attempt: a few noise pixels only add specks inside cells
NOISE_SAMPLE_STEP = 3  # estimate paper noise on every 3rd pixel in each direction (plenty, and fast)
SHEET_BRIGHTNESS = 0.6  # the sheet is where the paper estimate is at least this fraction of the brightest
#                         (a photo's shadow dims it by <= ~0.5; a table is darker): noise is learnt there,
#                         not from a textured table that would push the threshold above faint lines
MIN_IMAGE_SIDE = 200  # a smaller image cannot hold a readable 20 x 30 grid
BUSY_INK_FRACTION = 0.4  # above this much "ink" at detection scale (a written sheet: <= ~0.33) the image
#                          may be noise, which makes contour tracing take seconds; then ...
BUSY_MAX_MARKS = 20000  # ... more separate marks or holes than this means it is (a sheet has ~1-3 thousand)
MIN_HOLE_AREA = 12  # detection px; smaller holes are noise/text counters, a cell is >= ~15x15 px there
GRID_MIN_CELL_HOLES = 150  # the grid must show at least a quarter of its 600 cells as closed holes
CELL_HOLE_RANGE = (0.4, 1.8)  # a hole counts as a cell when its area is this many times the median hole
CELL_HOLE_PERCENTILE = 90  # of the cell-like holes' areas: an intact (unsplit) cell's interior
GRID_CELL_COUNT_RANGE = (420, 1000)  # quad area / intact cell hole area for a 20 x 30 grid (600 / interior
#                                      fraction, with perspective spread); a different grid falls outside
GRID_ASPECT_RANGE = (1.2, 1.9)  # mean vertical / horizontal side length: 30 rows x 20 cols is 1.5
SIDE_FIT_TRIM = 0.08  # ignore this fraction at each end of a side when fitting it: corners are rounded
SIDE_FIT_GATE = 0.35  # cells; contour points farther from the rough side (digits sticking out) are ignored
SIDE_FIT_ROUNDS = 2  # refits, each gated by the previous sides (a rough corner a little off is pulled in)

# --- version 2 sheet: corner markers and the sheet code (markers.py, sheet_code.py) ---
MARKER_DETECT_LONG_SIDE = 1600  # markers are found on a copy with its long side in [800, 1600): a 10 mm marker
#                                 is still >= 27 px there (4.5 px per bit), and ArUco on it costs a few ms
MARKER_THRESHOLD_WINDOW = 13  # px, the adaptive threshold's window on the search copy (2-3 of a marker's bits)
MARKER_DARK_FRACTION = 0.6  # a candidate square whose middle averages below this fraction of the paper's
#                             brightness looks like a marker (~0.35 of paper) rather than a cell (~0.9 or more)
MARKER_MIN_SIDE_PX = 10  # ... and is a square: no side shorter than this (a marker is >= 14 px on the search copy
MARKER_MAX_SKEW = 2.0  # even for a sheet filling half a photo) and its longest side at most this many shortest
MARKER_MAX_SIDE_FRACTION = 0.25  # of the image's short side: a 10 mm marker is ~5 % of a sheet filling the image
MARKER_MIN_FOUND = 3  # markers needed for the page's pose (three fix it; one may be covered or smudged)
MARKER_MAX_ERROR = 0.15  # marker sides; a found marker corner farther than this from where the fitted pose
#                          puts it means the markers are not the sheet's layout (a marker-like doodle)
QR_PX_PER_MM = 10  # the QR code's square is warped upright at this resolution (8 px per module) to be read
QR_SEARCH_LONG_SIDE = 3200  # a page without markers is searched for its code on a copy with its long side in
#                             [1600, 3200): the code's 0.8 mm modules are >= 4 px there, enough for OpenCV
QR_MARGIN_MM = 3.0  # paper around the code's own quiet zone taken into that crop (the pose is ~1 mm exact)

# --- mesh (true positions of the 31 x 21 line intersections) ---
MESH_CELL_PX = 24  # cell size of the small rectified copy used to trace each line
MESH_OPEN_FRACTION = 0.9  # opening length (cells) that keeps grid lines and removes digit strokes (even a
#                          wide 7's bar is shorter than 0.85 cells)
MESH_SEARCH = 0.4  # cells either side of the expected line position searched for the line
MESH_MIN_STRENGTH = 0.03  # a strip's line must average this darkness fraction over its length
MESH_REL_STRENGTH = 0.3  # ... and be at least this fraction of the page's typical line
MESH_MIN_POINTS = 6  # strips needed to fit a line; fewer and the line is interpolated from its neighbours
MESH_MAX_MISSING_LINES = 4  # per direction; more and the "grid" is not a complete 20 x 30 grid
MESH_MIN_FOUND = 0.6  # fraction of all strips in which a line must be seen
MESH_OUTLIER_PX = 1.5  # mesh px; points farther from the first fit are dropped (a digit bar near a line)
MESH_SPACING_RANGE = (0.6, 1.4)  # consecutive fitted lines must be this many cells apart

# --- rectified image (where cells are cut) ---
CELL_PX = 48  # rectified cell size: a digit at 35 % of a cell is still 17 px tall, and 600 cells are cheap
MARGIN_PX = 24  # rectified margin around the grid (half a cell) so strokes crossing the outer lines survive
REMAP_COARSE = 4  # the remap's maps are computed exactly every 4th px and interpolated by cv2.resize
RECT_FLAT_KERNEL = 15  # max-filter on the 1/4 rectified copy = 60 px = 1.25 cells: always reaches paper,
#                        even from the middle of a filled cell

# --- ink ---
INK_DARK_MIN = 26  # ink threshold floor (~0.10): pencil (~0.25-0.5 darkness) passes comfortably
INK_DARK_MAX = 64  # ceiling (~0.25): even on a noisy photo, pen and pencil strokes stay ink
NOISE_MAX_AREA = 2  # px at CELL_PX; components this small are sensor/JPEG noise, not marks

# --- grid line removal ---
LINE_SEARCH = 0.25  # cells either side of a line's expected position that may belong to the line
LINE_CORE_FILL = 0.5  # line core: rows (columns) at least half as full of ink as the line's fullest row
LINE_EDGE_FILL = 0.25  # line edge (anti-aliasing, ringing, slight tilt): at least this fraction ink ...
LINE_EDGE_ABOVE_MEDIAN = 0.15  # ... and this much above the window's median (rows through digits: 5-15 %)
LINE_EDGE_MAX_PX = 2  # the edge adds at most this many px to each side of the core
LINE_SLACK_PX = 1  # extra px removed each side of the measured line, for the line's wobble
LINE_CROSS_REACH = 0.6  # marks on both sides of a line line up if within this many band heights (a slanted
#                         stroke through the line comes out shifted)
FRAGMENT_MAX_DEPTH_ROWS = 0.3  # cells; the part of a digit past a horizontal line reaches at most this far
#                                (an overshoot: a tail, a loop's bottom); any digit touching the line from
#                                the other side is taller (>= 0.35 cells), so it is never taken for one
FRAGMENT_MAX_DEPTH_COLS = 0.15  # cells; past a vertical line: digits are narrower than tall, so a small
#                                 neighbour digit leaning on the line can be only ~0.16 cells wide
FRAGMENT_MAX_LENGTH = 0.3  # cells; a piece past a line that is also this short along it is smaller than any
#                            digit (>= 0.35 cells tall), so it is an overshoot even if a little deeper
FRAGMENT_MAX_DEPTH_RATIO = 0.5  # an overshoot also reaches at most half as far as the digit's main part
#                                 (with all of that cell's pieces: a light pencil digit can be in several)
FRAGMENT_MAX_AREA = 1.0  # ... and has less ink than the main part (a 7 whose whole bar crossed the line
#                          still has the longer stem)

# --- cell decisions ---
SPECK_MAX_EXTENT = 0.25  # cells; marks all smaller than this in both directions are specks (the smallest
#                          digit we expect, 35 % of a cell, is 0.35 cells tall)
SPECK_CORE_CHECK = 0.4  # cells; a mark smaller than this is measured again at its core: blur and a low
#                        resolution spread a dark dot by a pixel or two each side (at 90 dpi, 32 px cells, that
#                        is 0.06-0.1 cells), so its thresholded extent overstates what was drawn
SPECK_CORE_LEVEL = 0.5  # the core: darkness >= this fraction of the mark's strong ink (its full width at half
#                         maximum, which blur does not grow), or the ink threshold if higher (a faint mark's
#                         core is all of it). A core shorter than SPECK_MAX_EXTENT is a dot or a pen touch-down
STRAY_MAX_AREA = 0.15  # a small mark in a written cell is a stray speck if below this fraction of the main
#                        stroke's area and ...
STRAY_MIN_GAP = 0.25  # ... farther than this (cells) from the main stroke's box (dots of i, j, ä are kept)
SCRIBBLE_MAX_FILL = 0.6  # ink area / cell area above this is a filled cell (a bold felt-pen 0 reaches ~0.45)
SCRIBBLE_MAX_SPAN = 1.9  # cells; a mark longer than this is a stroke across cells, not one sample
SCRIBBLE_SOLIDITY = 0.92  # ink filling this much of its own box is a blot (a small bold 0: up to ~0.87) ...
SCRIBBLE_SOLID_MIN_FILL = 0.2  # ... when it is also this big (cell fraction; a thick 1 is solid but small)
FAINT_MIN_DARK = 38  # (~0.15) a sample's strong ink (90th percentile) must reach this darkness ...
FAINT_REL = 0.35  # ... and this fraction of the page's typical sample (erased pencil on an inked page)
STRETCH_PERCENTILE = 90  # ink at this percentile of a sample's darkness becomes 1.0: pencil looks like pen

# --- preview ---
PREVIEW_LONG_SIDE = 1200
PREVIEW_TINT_ALPHA = 0.35  # enough to see the colour, not so much the digits vanish
