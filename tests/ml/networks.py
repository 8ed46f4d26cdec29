"""Custom networks the ML tests share: odd sizes, strides, 'same' padding, dropout, every activation."""

from digitlab.ml.architectures import Conv2D, Dense, Dropout, Flatten, MaxPooling2D

CUSTOM = {
    "strided_same_conv": [Conv2D(filters=8, kernel_size=5, padding="same", strides=2, activation="tanh"),
                          Dropout(rate=0.25), Conv2D(filters=4, kernel_size=3, strides=2),
                          MaxPooling2D(pool_size=4), Flatten(), Dense(units=7, activation="sigmoid"),
                          Dropout(rate=0.1), Dense(units=3, activation="softmax")],
    "odd_sizes": [Conv2D(filters=6, kernel_size=4, strides=3), MaxPooling2D(pool_size=3),
                  Conv2D(filters=5, kernel_size=3, padding="same", strides=2), Flatten(), Flatten(),
                  Dense(units=11), Dense(units=3, activation="softmax")],
    "pool_first": [MaxPooling2D(pool_size=7), Conv2D(filters=2, kernel_size=3, padding="same"), Flatten(),
                   Dense(units=3, activation="softmax")],
    "dense_only": [Dropout(rate=0.5), Flatten(), Dense(units=1), Dense(units=3, activation="softmax")],
}
