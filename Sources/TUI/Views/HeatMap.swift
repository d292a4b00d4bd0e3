import Training

/// A feature map drawn as a heat map. With colour, each cell shows two pixels stacked: the
/// upper half block `▀` takes the upper pixel's colour as foreground and the lower pixel's
/// as background. Without colour, each cell shows one pixel (the mean of the two rows) as a
/// shade from ` ` to `█`, so the picture never depends on colour alone.
public struct HeatMap {
    public var map: FeatureMap
    /// Colours the terminal shows: 0 for none, 8 or 16 for the ANSI palette, 256 for xterm's.
    public var colorCount: Int

    public init(map: FeatureMap, colorCount: Int) {
        self.map = map
        self.colorCount = colorCount
    }

    /// Cube colours from dark blue through teal and green to yellow, darkest first.
    static let ramp256: [PaletteColor] = [
        .cube(red: 0, green: 0, blue: 1), .cube(red: 0, green: 0, blue: 2),
        .cube(red: 1, green: 0, blue: 3), .cube(red: 1, green: 1, blue: 4),
        .cube(red: 0, green: 2, blue: 4), .cube(red: 0, green: 3, blue: 4),
        .cube(red: 0, green: 3, blue: 3), .cube(red: 0, green: 4, blue: 3),
        .cube(red: 1, green: 4, blue: 2), .cube(red: 2, green: 4, blue: 1),
        .cube(red: 3, green: 5, blue: 1), .cube(red: 4, green: 5, blue: 0),
        .cube(red: 5, green: 5, blue: 0), .cube(red: 5, green: 5, blue: 3),
    ]
    static let ramp8: [PaletteColor] = [.black, .blue, .magenta, .red, .yellow, .white]
    static let shades: [Character] = [" ", "░", "▒", "▓", "█"]

    /// Pixels per map pixel when the map is smaller than the area, or map pixels per cell
    /// column when it is larger: (zoom, stride), one of which is 1.
    static func scale(mapWidth: Int, mapHeight: Int, columns: Int, pixelRows: Int) -> (Int, Int) {
        guard columns > 0, pixelRows > 0 else { return (1, Int.max) }
        let strideNeeded = max(
            (mapWidth + columns - 1) / columns, (mapHeight + pixelRows - 1) / pixelRows)
        if strideNeeded > 1 { return (1, strideNeeded) }
        let zoom = max(1, min(columns / max(mapWidth, 1), pixelRows / max(mapHeight, 1)))
        return (zoom, 1)
    }

    /// The value range of the map's finite values, widened when flat.
    var range: (low: Float, high: Float) {
        let finite = map.values.filter(\.isFinite)
        guard var low = finite.min(), var high = finite.max() else { return (0, 1) }
        if high == low {
            low -= 0.5
            high += 0.5
        }
        return (low, high)
    }

    /// Draws the map with its top-left corner at `rect`'s, using as much of `rect` as the
    /// scale allows. Returns the cell columns and rows used.
    @discardableResult
    public func draw(in rect: Rect, on buffer: inout CellBuffer) -> (columns: Int, rows: Int) {
        let pixelRowsPerCell = colorCount > 0 ? 2 : 1
        let (zoom, stride) = Self.scale(
            mapWidth: map.width, mapHeight: map.height, columns: rect.width,
            pixelRows: rect.height * pixelRowsPerCell)
        guard stride != Int.max else { return (0, 0) }
        let pixelColumns = (map.width * zoom + stride - 1) / stride
        let pixelRows = (map.height * zoom + stride - 1) / stride
        let cellRows = (pixelRows + pixelRowsPerCell - 1) / pixelRowsPerCell
        let (low, high) = range

        // The value at a scaled pixel, nil below the map's last row.
        func value(column: Int, row: Int) -> Float? {
            let y = row * stride / zoom
            let x = column * stride / zoom
            guard y < map.height, x < map.width else { return nil }
            return map.values[y * map.width + x]
        }
        func level(_ value: Float, steps: Int) -> Int {
            guard value.isFinite else { return steps - 1 }
            let fraction = (value - low) / (high - low)
            return min(max(Int(fraction * Float(steps)), 0), steps - 1)
        }

        for cellRow in 0..<min(cellRows, rect.height) {
            for column in 0..<min(pixelColumns, rect.width) {
                let x = rect.x + column
                let y = rect.y + cellRow
                if colorCount == 0 {
                    guard let v = value(column: column, row: cellRow) else { continue }
                    let shade = Self.shades[level(v, steps: Self.shades.count)]
                    buffer.put(String(shade), x: x, y: y)
                    continue
                }
                let ramp = colorCount >= 256 ? Self.ramp256 : Self.ramp8
                let upper = value(column: column, row: cellRow * 2)
                let lower = value(column: column, row: cellRow * 2 + 1)
                guard let upper else { continue }
                let style = CellStyle(
                    foreground: ramp[level(upper, steps: ramp.count)],
                    background: lower.map { ramp[level($0, steps: ramp.count)] }
                        ?? .terminalDefault)
                buffer.put("▀", x: x, y: y, style: style)
            }
        }
        return (min(pixelColumns, rect.width), min(cellRows, rect.height))
    }
}
