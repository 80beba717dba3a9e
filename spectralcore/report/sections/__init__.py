"""One module per report section, in the order the report prints them."""
