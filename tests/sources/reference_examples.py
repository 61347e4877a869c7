"""The composed examples of API_REFERENCE.md, verbatim, as the JSON texts the services send."""

from __future__ import annotations

BRICKSET_CHECK_OK = r"""{"status":"success"}"""

BRICKSET_INVALID_KEY = r"""{"status":"error","message":"Invalid API key"}"""

BRICKSET_LOGIN = r"""{"status":"success","hash":"mK8rT2xQ9vLw4NcE"}"""

BRICKSET_THEMES = r"""{"status":"success","matches":2,"themes":[
 {"theme":"Collectable Minifigures","setCount":700,"subthemeCount":36,"yearFrom":2010,"yearTo":2025},
 {"theme":"Star Wars","setCount":1100,"subthemeCount":60,"yearFrom":1999,"yearTo":2025}]}"""

BRICKSET_SETS = r"""{"status":"success","matches":13,"sets":[
 {"setID":1001,"number":"7101","numberVariant":1,"name":"Lightsaber Duel","year":1999,
  "theme":"Star Wars","themeGroup":"Licensed","subtheme":"Episode I","category":"Normal",
  "released":true,"pieces":52,"minifigs":2,
  "image":{"thumbnailURL":"https://images.brickset.com/sets/small/7101-1.jpg","imageURL":"https://images.brickset.com/sets/images/7101-1.jpg"},
  "bricksetURL":"https://brickset.com/sets/7101-1",
  "collection":{"owned":false,"wanted":false,"qtyOwned":0,"rating":0,"notes":""},
  "collections":{"ownedBy":9000,"wantedBy":700},
  "LEGOCom":{"US":{"retailPrice":5.99},"UK":{},"CA":{},"DE":{}},
  "rating":3.6,"reviewCount":2,"packagingType":"Box","availability":"Retail",
  "instructionsCount":1,"additionalImageCount":3,"ageRange":{"min":7},"dimensions":{},
  "barcode":{},"extendedData":{},"lastUpdated":"2024-01-05T10:00:00.000Z"},
 {"setID":1002,"number":"7121","numberVariant":1,"name":"Naboo Swamp","year":1999,
  "theme":"Star Wars","themeGroup":"Licensed","subtheme":"Episode I","category":"Normal",
  "released":true,"pieces":82,"minifigs":3,"image":{},"bricksetURL":"https://brickset.com/sets/7121-1",
  "collection":{"owned":false,"wanted":false,"qtyOwned":0,"rating":0,"notes":""},
  "collections":{"ownedBy":8000,"wantedBy":600},"LEGOCom":{"US":{},"UK":{},"CA":{},"DE":{}},
  "rating":0,"reviewCount":0,"packagingType":"Box","availability":"Retail",
  "instructionsCount":0,"additionalImageCount":0,"ageRange":{},"dimensions":{},
  "barcode":{},"extendedData":{},"lastUpdated":"2023-11-20T08:30:00.000Z"}]}"""

BRICKSET_MINIFIGS = r"""{"status":"success","matches":2,"minifigs":[
 {"minifigNumber":"sw0001a","name":"Battle Droid - Tan, Angled Arms","category":"Star Wars / Star Wars Episode 1",
  "ownedInSets":1,"ownedLoose":0,"ownedTotal":1,"wanted":false},
 {"minifigNumber":"sw0001b","name":"Battle Droid - Tan, One Straight Arm","category":"Star Wars / Star Wars Episode 1",
  "ownedInSets":0,"ownedLoose":0,"ownedTotal":0,"wanted":true}]}"""

BRICKSET_INVALID_HASH = r"""{"status":"error","message":"Invalid user hash"}"""

BRICKSET_LIMIT = r"""{"status":"error","message":"API limit exceeded"}"""

REBRICKABLE_MINIFIGS = r"""{"count": 1520,
 "next": "https://rebrickable.com/api/v3/lego/minifigs/?in_theme_id=158&page=2&page_size=2",
 "previous": null,
 "results": [
  {"set_num":"fig-000480","name":"Battle Droid, Tan, Angled Arms","num_parts":4,
   "set_img_url":"https://cdn.rebrickable.com/media/sets/fig-000480/12345.jpg",
   "set_url":"https://rebrickable.com/minifigs/fig-000480/battle-droid-tan-angled-arms/",
   "last_modified_dt":"2021-03-14T09:12:45.123456Z"},
  {"set_num":"fig-000481","name":"Battle Droid Security, Tan, Red Torso","num_parts":4,
   "set_img_url":"https://cdn.rebrickable.com/media/sets/fig-000481/12346.jpg",
   "set_url":"https://rebrickable.com/minifigs/fig-000481/battle-droid-security-tan-red-torso/",
   "last_modified_dt":"2022-07-02T18:40:03.654321Z"}]}"""

REBRICKABLE_THEMES = r"""{"count":2,"next":null,"previous":null,"results":[
 {"id":158,"parent_id":null,"name":"Star Wars"},
 {"id":171,"parent_id":158,"name":"Ultimate Collector Series"}]}"""

REBRICKABLE_SET_MINIFIGS = r"""{"count":2,"next":null,"previous":null,"results":[
 {"id":41001,"set_num":"fig-000510","set_name":"Darth Maul","quantity":1,
  "set_img_url":"https://cdn.rebrickable.com/media/sets/fig-000510/22222.jpg"},
 {"id":41002,"set_num":"fig-000511","set_name":"Qui-Gon Jinn","quantity":1,
  "set_img_url":"https://cdn.rebrickable.com/media/sets/fig-000511/22223.jpg"}]}"""

REBRICKABLE_THROTTLED = r"""{"detail":"Request was throttled. Expected available in 2 seconds."}"""

EBAY_TOKEN = r"""{"access_token":"v^1.1#i^1#p^1#r^0#I^3#f^0#t^H4sIAAAAAAAAAOVYa2wUVRQ…","expires_in":7200,"token_type":"Application Access Token"}"""

EBAY_TOKEN_ERROR = r"""{"error":"invalid_client","error_description":"client authentication failed"}"""

EBAY_SEARCH = r"""{
  "href": "https://api.ebay.com/buy/browse/v1/item_summary/search?q=lego+battle+droid+sw0001a&category_ids=19001&sort=price&limit=2&offset=0",
  "total": 37,
  "next": "https://api.ebay.com/buy/browse/v1/item_summary/search?q=lego+battle+droid+sw0001a&category_ids=19001&sort=price&limit=2&offset=2",
  "limit": 2,
  "offset": 0,
  "itemSummaries": [
    {
      "itemId": "v1|305512345678|0",
      "legacyItemId": "305512345678",
      "title": "LEGO Star Wars Battle Droid sw0001a Minifigure 7101 Episode 1 1999",
      "leafCategoryIds": ["19001"],
      "categories": [{"categoryId": "19001", "categoryName": "LEGO Minifigures"}],
      "image": {"imageUrl": "https://i.ebayimg.com/images/g/AbCdEfGhIjK/s-l225.jpg"},
      "price": {"value": "2.49", "currency": "GBP"},
      "itemHref": "https://api.ebay.com/buy/browse/v1/item/v1%7C305512345678%7C0",
      "seller": {"username": "brick_attic_uk", "feedbackPercentage": "99.8", "feedbackScore": 5321},
      "condition": "Used",
      "conditionId": "3000",
      "shippingOptions": [{"shippingCostType": "FIXED", "shippingCost": {"value": "1.55", "currency": "GBP"}}],
      "buyingOptions": ["FIXED_PRICE", "BEST_OFFER"],
      "itemWebUrl": "https://www.ebay.co.uk/itm/305512345678",
      "itemLocation": {"postalCode": "M1***", "country": "GB"},
      "adultOnly": false,
      "availableCoupons": false,
      "itemCreationDate": "2025-05-20T08:14:02.000Z",
      "itemOriginDate": "2025-05-20T08:14:02.000Z",
      "topRatedBuyingExperience": false,
      "priorityListing": false,
      "listingMarketplaceId": "EBAY_GB"
    },
    {
      "itemId": "v1|196123456789|0",
      "legacyItemId": "196123456789",
      "title": "Lego Battle Droid Tan Minifig sw0001a Star Wars NEW",
      "leafCategoryIds": ["19001"],
      "categories": [{"categoryId": "19001", "categoryName": "LEGO Minifigures"}],
      "image": {"imageUrl": "https://i.ebayimg.com/images/g/ZyXwVuTsRqP/s-l225.jpg"},
      "price": {"value": "3.85", "currency": "GBP", "convertedFromValue": "4.99", "convertedFromCurrency": "USD"},
      "currentBidPrice": {"value": "3.85", "currency": "GBP", "convertedFromValue": "4.99", "convertedFromCurrency": "USD"},
      "bidCount": 3,
      "itemHref": "https://api.ebay.com/buy/browse/v1/item/v1%7C196123456789%7C0",
      "seller": {"username": "usbrickdeals", "feedbackPercentage": "100.0", "feedbackScore": 812},
      "condition": "New",
      "conditionId": "1000",
      "shippingOptions": [{"shippingCostType": "CALCULATED", "shippingCost": {"value": "6.20", "currency": "GBP", "convertedFromValue": "8.00", "convertedFromCurrency": "USD"}}],
      "buyingOptions": ["AUCTION"],
      "itemEndDate": "2025-06-03T19:30:00.000Z",
      "itemWebUrl": "https://www.ebay.co.uk/itm/196123456789",
      "itemLocation": {"postalCode": "941**", "country": "US"},
      "adultOnly": false,
      "availableCoupons": false,
      "itemCreationDate": "2025-05-27T19:30:00.000Z",
      "itemOriginDate": "2025-05-27T19:30:00.000Z",
      "topRatedBuyingExperience": false,
      "priorityListing": false,
      "listingMarketplaceId": "EBAY_US"
    }
  ]
}"""

EBAY_NO_RESULTS = r"""{"href":"https://api.ebay.com/buy/browse/v1/item_summary/search?q=sw9999z&limit=50&offset=0","total":0,"limit":50,"offset":0}"""

EBAY_INVALID_TOKEN = r"""{"errors":[{"errorId":1001,"domain":"OAuth","category":"REQUEST","message":"Invalid access token","longMessage":"Invalid access token. Check the value of the Authorization HTTP request header."}]}"""

EBAY_TOO_MANY = r"""{"errors":[{"errorId":2001,"domain":"ACCESS","category":"REQUEST","message":"Too many requests.","longMessage":"The request limit has been reached for the resource."}]}"""

BRICKLINK_SOLD = r"""{"meta":{"description":"OK","message":"OK","code":200},
 "data":{"item":{"no":"sw0001a","type":"MINIFIG"},"new_or_used":"U","currency_code":"GBP",
  "min_price":"0.9500","max_price":"4.7500","avg_price":"2.3120","qty_avg_price":"2.1044",
  "unit_quantity":3,"total_quantity":5,
  "price_detail":[
   {"quantity":1,"qunatity":1,"unit_price":"0.9500","seller_country_code":"GB","buyer_country_code":"GB","date_ordered":"2025-04-11T09:22:31.000Z"},
   {"quantity":3,"qunatity":3,"unit_price":"1.9000","seller_country_code":"DE","buyer_country_code":"GB","date_ordered":"2025-03-02T17:05:10.000Z"},
   {"quantity":1,"qunatity":1,"unit_price":"4.7500","seller_country_code":"US","buyer_country_code":"GB","date_ordered":"2025-01-19T12:40:00.000Z"}]}}"""

BRICKLINK_STOCK = r"""{"meta":{"description":"OK","message":"OK","code":200},
 "data":{"item":{"no":"sw0001a","type":"MINIFIG"},"new_or_used":"N","currency_code":"GBP",
  "min_price":"2.9900","max_price":"8.5000","avg_price":"5.1633","qty_avg_price":"4.4120",
  "unit_quantity":3,"total_quantity":7,
  "price_detail":[{"quantity":4,"unit_price":"2.9900","shipping_available":true},
                  {"quantity":2,"unit_price":"4.0000","shipping_available":true},
                  {"quantity":1,"unit_price":"8.5000","shipping_available":false}]}}"""

BRICKLINK_NOT_FOUND = r"""{"meta":{"description":"The resource you requested does not exist.","message":"RESOURCE_NOT_FOUND","code":404},"data":{}}"""

BRICKLINK_BAD_OAUTH = r"""{"meta":{"description":"SIGNATURE_INVALID","message":"BAD_OAUTH_REQUEST","code":401},"data":{}}"""
