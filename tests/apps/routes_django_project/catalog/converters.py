"""A custom path converter: stock-keeping units such as SKU-1001."""


class SkuConverter:
    regex = r"SKU-[0-9]{4}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value
